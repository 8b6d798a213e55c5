// An OpenAI request body for /v1/completions or /v1/chat/completions, read and checked. Every problem
// is a RequestError carrying the HTTP status and the parameter concerned, which the server returns as
// OpenAI's error object ({"error": {"message", "type", "param", "code"}}); nothing here can crash on a
// body, however malformed (JSON nesting is limited by util/json).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "util/json.h"

namespace prefer::serve {

struct RequestError : std::runtime_error {
  RequestError(int status, std::string message, std::string param = "", std::string code = "")
      : std::runtime_error(std::move(message)), status(status), param(std::move(param)), code(std::move(code)) {}
  int status;
  std::string param;  // the request field at fault, empty when none
  std::string code;   // OpenAI's error code where it has one (context_length_exceeded), else empty
  // {"error": {"message", "type", "param", "code"}} with type invalid_request_error (4xx) or server_error.
  std::string to_json() const;
};

struct RequestLimits {
  int64_t max_n = 16;             // choices per request
  int64_t max_prompts = 64;       // prompts in one /v1/completions request
  size_t max_stop = 4;            // stop strings, as OpenAI
  size_t max_messages = 1024;
};

struct SamplingRequest {
  bool chat = false;
  std::string model;                                // echoed back; a one-model server answers any name
  OrderedJson messages;                             // chat: [{role, content (text)}], content parts joined
  std::vector<std::string> prompts;                 // completions: text prompts
  std::vector<std::vector<int64_t>> prompt_ids;     // completions: token-id prompts
  std::optional<int64_t> max_tokens;                // none: the server's default (within the context)
  double temperature = 1.0;                         // 0 = greedy
  double top_p = 1.0;
  int64_t n = 1;
  std::vector<std::string> stop;
  std::optional<uint64_t> seed;
  bool stream = false;
  bool include_usage = false;                       // stream_options.include_usage
};

// Reads `body` for the chat (`chat` true) or the completions endpoint; throws RequestError (400).
SamplingRequest parse_request(std::string_view body, bool chat, const RequestLimits& limits = {});

}  // namespace prefer::serve
