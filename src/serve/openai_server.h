// The OpenAI-compatible HTTP API over one model: POST /v1/chat/completions (the model's chat template,
// generation prompt added), POST /v1/completions, GET /v1/models, GET /health. Bodies are checked by
// serve/request, decoded by serve/scheduler; streaming answers are server-sent events in OpenAI's chunk
// format ending with `data: [DONE]`. Every failure is an OpenAI error object with a 4xx/5xx status:
// a malformed request never takes the server down.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "data/pipeline.h"
#include "model/causal_lm.h"
#include "serve/request.h"
#include "serve/scheduler.h"

namespace httplib {
class Server;
}

namespace prefer::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;                     // 0: any free port (see bind())
  std::string api_key;                 // non-empty: requests need "Authorization: Bearer <key>"
  size_t max_body_bytes = 8u << 20;    // larger bodies get 413
  std::string model_name;              // listed by /v1/models; requests may name any model
  int64_t default_max_tokens = 256;    // chat requests without max_tokens (completions: 16, as OpenAI)
  int64_t max_tokens_limit = 4096;     // a larger max_tokens is refused (400)
  int threads = 32;                    // HTTP connections served at once (streams hold one each)
  RequestLimits limits;
};

class OpenAiServer {
 public:
  OpenAiServer(const model::CausalLM& model, const data::TextModel& text, Scheduler& scheduler, ServerOptions options);
  ~OpenAiServer();
  // Binds the socket; returns the port (the chosen one when options.port is 0). Throws when it cannot.
  int bind();
  // Serves until stop() (from another thread or a signal handler's thread).
  void listen();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace prefer::serve
