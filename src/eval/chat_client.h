// One OpenAI-compatible chat endpoint: POST {base_url}/chat/completions, retried and time-limited, run
// concurrently. What the HTTP judge and `prefer data synth`'s HTTP generator share: the URL form
// (http://host:port/v1), OPENAI_API_KEY as a Bearer token, retries on no connection, 429 and 5xx with
// exponential backoff, and errors that name the URL.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "util/json.h"

namespace prefer::eval {

struct ChatClientOptions {
  std::string base_url;     // the OpenAI base URL, /v1 included
  std::string model;        // sent as "model"
  std::string api_key;      // Bearer token; empty: none
  int concurrency = 4;
  int retries = 3;          // after the first try
  double timeout_s = 120;   // per call
  double backoff_s = 0.5;   // first wait; doubles after each retry
  std::string field = "judge";  // the option errors name ("judge", "model")
};

class ChatClient {
 public:
  explicit ChatClient(ChatClientOptions options);
  // "http://host:port/v1"
  std::string url() const { return scheme_host_port_ + path_prefix_; }
  const ChatClientOptions& options() const { return opt_; }
  // One chat call with `messages` and the request's other fields (`params`: temperature, max_tokens,
  // seed, ...), retried until `usable` accepts choices[0].message.content. None when every answered try
  // was unusable; throws when the endpoint never answered (or refused with a 4xx).
  std::optional<std::string> ask(const OrderedJson& messages, const OrderedJson& params,
                                 const std::function<bool(const std::string&)>& usable) const;
  // Runs work(i) for i in [0, n) on `concurrency` threads; each returns its report, run under a lock (so
  // reports arrive one at a time). The first exception stops the others and is rethrown.
  void for_each_concurrently(size_t n, const std::function<std::function<void()>(size_t)>& work) const;

 private:
  ChatClientOptions opt_;
  std::string scheme_host_port_, path_prefix_;
};

// [{"role": "system", ...} when system is not empty, {"role": "user", "content": user}]
OrderedJson system_user_messages(const std::string& system, const std::string& user);

}  // namespace prefer::eval
