#include "eval/http_judge.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <mutex>
#include <thread>

#include "util/error.h"

namespace prefer::eval {

HttpJudge::HttpJudge(HttpJudgeOptions options) : opt_(std::move(options)) {
  std::string url = opt_.base_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos || (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0))
    throw Error("'" + opt_.base_url + "' is not an http:// or https:// URL", {.field = "judge",
                .hint = "e.g. --judge http:http://127.0.0.1:8000/v1"});
  const size_t path = url.find('/', scheme + 3);
  scheme_host_port_ = url.substr(0, path);
  path_prefix_ = path == std::string::npos ? "" : url.substr(path);
  if (opt_.model.empty()) throw Error("an HTTP judge needs --judge_model (the model name the endpoint serves)", {.field = "judge_model"});
}

std::string HttpJudge::identity() const {
  return Json{"http", scheme_host_port_ + path_prefix_, opt_.model, opt_.system_prompt, opt_.user_template, opt_.temperature, opt_.max_tokens}.dump();
}

std::optional<std::string> HttpJudge::ask(const std::string& system, const std::string& user,
                                          const std::function<bool(const std::string&)>& usable) const {
  httplib::Client client(scheme_host_port_);
  const auto secs = static_cast<time_t>(opt_.timeout_s);
  client.set_connection_timeout(std::min<time_t>(secs, 10), 0);
  client.set_read_timeout(secs, 0);
  client.set_write_timeout(secs, 0);
  httplib::Headers headers;
  if (!opt_.api_key.empty()) headers.emplace("Authorization", "Bearer " + opt_.api_key);
  OrderedJson messages = OrderedJson::array();
  if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
  messages.push_back({{"role", "user"}, {"content", user}});
  const std::string body =
      OrderedJson{{"model", opt_.model}, {"messages", messages}, {"temperature", opt_.temperature}, {"max_tokens", opt_.max_tokens}}.dump();
  const std::string url = scheme_host_port_ + path_prefix_ + "/chat/completions";
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
      throw Error("answered HTTP " + std::to_string(res->status) + ": " + res->body.substr(0, 300), {.field = "judge " + url,
                  .hint = res->status == 401 ? "set OPENAI_API_KEY" : res->status == 404 ? "check the URL (it includes /v1) and --judge_model" : ""});
    answered = true;
    try {
      Json j = parse_json(res->body, {.file = url});
      std::string content = j.at("choices").at(0).at("message").at("content").get<std::string>();
      if (usable(content)) return content;
    } catch (const std::exception&) {
      // an answer without choices[0].message.content: retried like an unparseable one
    }
    // Retried: a sampling judge may answer in the format next time.
  }
  if (answered) return std::nullopt;
  throw Error("failed after " + std::to_string(opt_.retries + 1) + " tries; the last: " + last, {.field = "judge " + url,
              .hint = "is the server running? verdicts so far are cached: re-running resumes"});
}

void HttpJudge::judge(const std::vector<JudgeItem>& items, const std::function<void(size_t, Verdict)>& on_verdict) {
  for_each_concurrently(items.size(), [&](size_t i) {
    auto reply = ask(opt_.system_prompt, fill_template(opt_.user_template, items[i]),
                     [](const std::string& r) { return parse_bracketed_verdict(r) != Verdict::Error; });
    return [&, i, v = reply ? parse_bracketed_verdict(*reply) : Verdict::Error] { on_verdict(i, v); };
  });
}

void HttpJudge::grade(const std::vector<JudgeItem>& items, const std::function<void(size_t, double)>& on_score) {
  for_each_concurrently(items.size(), [&](size_t i) {
    auto reply = ask(kSingleSystemPrompt, fill_template(kSingleUserTemplate, items[i]),
                     [](const std::string& r) { return !std::isnan(parse_bracketed_score(r)); });
    return [&, i, v = reply ? parse_bracketed_score(*reply) : std::nan("")] { on_score(i, v); };
  });
}

void HttpJudge::for_each_concurrently(size_t n, const std::function<std::function<void()>(size_t)>& work) const {
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
