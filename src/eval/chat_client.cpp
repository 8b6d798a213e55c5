#include "eval/chat_client.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>

#include "util/error.h"

namespace prefer::eval {

ChatClient::ChatClient(ChatClientOptions options) : opt_(std::move(options)) {
  std::string url = opt_.base_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos || (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0))
    throw Error("'" + opt_.base_url + "' is not an http:// or https:// URL",
                {.field = opt_.field, .hint = "e.g. --" + opt_.field + " http:http://127.0.0.1:8000/v1"});
  const size_t path = url.find('/', scheme + 3);
  scheme_host_port_ = url.substr(0, path);
  path_prefix_ = path == std::string::npos ? "" : url.substr(path);
}

OrderedJson system_user_messages(const std::string& system, const std::string& user) {
  OrderedJson messages = OrderedJson::array();
  if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
  messages.push_back({{"role", "user"}, {"content", user}});
  return messages;
}

std::optional<std::string> ChatClient::ask(const OrderedJson& messages, const OrderedJson& params,
                                           const std::function<bool(const std::string&)>& usable) const {
  httplib::Client client(scheme_host_port_);
  const auto secs = static_cast<time_t>(opt_.timeout_s);
  client.set_connection_timeout(std::min<time_t>(secs, 10), 0);
  client.set_read_timeout(secs, 0);
  client.set_write_timeout(secs, 0);
  httplib::Headers headers;
  if (!opt_.api_key.empty()) headers.emplace("Authorization", "Bearer " + opt_.api_key);
  OrderedJson request{{"model", opt_.model}, {"messages", messages}};
  for (const auto& [k, v] : params.items()) request[k] = v;
  const std::string body = request.dump();
  const std::string url = this->url() + "/chat/completions";
  std::string last = "no response";
  double wait = opt_.backoff_s;
  bool answered = false;
  for (int attempt = 0; attempt <= opt_.retries; ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(wait));
      wait *= 2;
    }
    auto res = client.Post((path_prefix_ + "/chat/completions").c_str(), headers, body, "application/json");
    if (!res) {
      last = "no response (" + httplib::to_string(res.error()) + ")";
      continue;
    }
    if (res->status == 429 || res->status >= 500) {
      last = "HTTP " + std::to_string(res->status);
      continue;
    }
    if (res->status != 200)
      throw Error("answered HTTP " + std::to_string(res->status) + ": " + res->body.substr(0, 300),
                  {.field = opt_.field + " " + url,
                   .hint = res->status == 401   ? "set OPENAI_API_KEY"
                           : res->status == 404 ? "check the URL (it includes /v1) and the model name"
                                                : ""});
    answered = true;
    try {
      Json j = parse_json(res->body, {.file = url});
      std::string content = j.at("choices").at(0).at("message").at("content").get<std::string>();
      if (usable(content)) return content;
    } catch (const std::exception&) {
      // an answer without choices[0].message.content: retried like an unusable one
    }
    // Retried: a sampling endpoint may answer in the format next time.
  }
  if (answered) return std::nullopt;
  throw Error("failed after " + std::to_string(opt_.retries + 1) + " tries; the last: " + last,
              {.field = opt_.field + " " + url, .hint = "is the server running? answers so far are kept: re-running resumes"});
}

void ChatClient::for_each_concurrently(size_t n, const std::function<std::function<void()>(size_t)>& work) const {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex mu;
  auto worker = [&] {
    while (!failed) {
      const size_t i = next++;
      if (i >= n) return;
      try {
        std::function<void()> report = work(i);
        std::lock_guard lock(mu);  // reports one at a time
        report();
      } catch (...) {
        std::lock_guard lock(mu);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::thread> threads;
  const int k = std::max(1, std::min<int>(opt_.concurrency, static_cast<int>(n)));
  for (int t = 0; t < k; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace prefer::eval
