#include "serve/request.h"

#include <fmt/format.h>

#include <cmath>

#include "util/error.h"

namespace prefer::serve {

namespace {

const char* json_type(const OrderedJson& v) { return v.type_name(); }

RequestError bad(const std::string& param, const std::string& message) { return RequestError(400, message, param); }

double number(const OrderedJson& body, const std::string& name, double lo, double hi, double fallback) {
  if (!body.contains(name) || body[name].is_null()) return fallback;
  const OrderedJson& v = body[name];
  if (!v.is_number()) throw bad(name, "'" + name + "' must be a number, not " + json_type(v));
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    throw bad(name, "'" + name + "' must be between " + fmt::format("{}", lo) + " and " + fmt::format("{}", hi) + ", got " + v.dump());
  return x;
}

std::optional<int64_t> integer(const OrderedJson& body, const std::string& name, int64_t lo, int64_t hi) {
  if (!body.contains(name) || body[name].is_null()) return std::nullopt;
  const OrderedJson& v = body[name];
  if (!v.is_number_integer() && !v.is_number_unsigned())
    throw bad(name, "'" + name + "' must be an integer, not " + (v.is_number() ? std::string("a fraction") : json_type(v)));
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi))
    throw bad(name, "'" + name + "' must be at most " + std::to_string(hi) + ", got " + v.dump());
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi) throw bad(name, "'" + name + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + v.dump());
  return x;
}

bool boolean(const OrderedJson& body, const std::string& name) {
  if (!body.contains(name) || body[name].is_null()) return false;
  if (!body[name].is_boolean()) throw bad(name, "'" + name + "' must be true or false, not " + json_type(body[name]));
  return body[name].get<bool>();
}

// Options prefer serve does not implement: refused by name when set to anything but their neutral
// value, rather than silently ignored.
void refuse_unsupported(const OrderedJson& body) {
  auto set = [&](const char* k) { return body.contains(k) && !body[k].is_null(); };
  for (const char* k : {"presence_penalty", "frequency_penalty"})
    if (set(k) && !(body[k].is_number() && body[k].get<double>() == 0.0))
      throw bad(k, std::string("'") + k + "' is not supported by prefer serve (only 0)");
  for (const char* k : {"logprobs", "echo"})
    if (set(k) && !(body[k].is_boolean() && !body[k].get<bool>()) && !(body[k].is_number() && body[k].get<double>() == 0.0))
      throw bad(k, std::string("'") + k + "' is not supported by prefer serve");
  if (set("best_of") && !(body["best_of"].is_number_integer() && body["best_of"].get<int64_t>() == 1))
    throw bad("best_of", "'best_of' is not supported by prefer serve (use n)");
  for (const char* k : {"tools", "functions", "logit_bias"})
    if (set(k) && !body[k].empty()) throw bad(k, std::string("'") + k + "' is not supported by prefer serve");
  if (set("suffix")) throw bad("suffix", "'suffix' is not supported by prefer serve");
}

std::vector<std::string> stops(const OrderedJson& body, const RequestLimits& limits) {
  std::vector<std::string> out;
  if (!body.contains("stop") || body["stop"].is_null()) return out;
  const OrderedJson& s = body["stop"];
  if (s.is_string()) {
    out.push_back(s.get<std::string>());
  } else if (s.is_array()) {
    for (const auto& x : s) {
      if (!x.is_string()) throw bad("stop", "'stop' must be a string or a list of strings");
      out.push_back(x.get<std::string>());
    }
  } else {
    throw bad("stop", "'stop' must be a string or a list of strings, not " + std::string(json_type(s)));
  }
  if (out.size() > limits.max_stop) throw bad("stop", "'stop' holds at most " + std::to_string(limits.max_stop) + " strings");
  for (const auto& x : out)
    if (x.empty()) throw bad("stop", "a stop string must not be empty");
  return out;
}

OrderedJson messages(const OrderedJson& body, const RequestLimits& limits) {
  if (!body.contains("messages")) throw bad("messages", "'messages' is required");
  const OrderedJson& m = body["messages"];
  if (!m.is_array()) throw bad("messages", "'messages' must be a list, not " + std::string(json_type(m)));
  if (m.empty()) throw bad("messages", "'messages' must hold at least one message");
  if (m.size() > limits.max_messages) throw bad("messages", "'messages' holds at most " + std::to_string(limits.max_messages) + " messages");
  OrderedJson out = OrderedJson::array();
  for (size_t i = 0; i < m.size(); ++i) {
    const std::string at = "messages[" + std::to_string(i) + "]";
    const OrderedJson& msg = m[i];
    if (!msg.is_object()) throw bad(at, at + " must be an object with role and content");
    if (!msg.contains("role") || !msg["role"].is_string()) throw bad(at + ".role", at + " needs a 'role' string");
    const std::string role = msg["role"].get<std::string>();
    if (role != "system" && role != "developer" && role != "user" && role != "assistant" && role != "tool")
      throw bad(at + ".role", at + " has the unknown role '" + role + "' (system, developer, user, assistant or tool)");
    std::string content;
    const OrderedJson c = msg.contains("content") ? msg["content"] : OrderedJson();
    if (c.is_string()) {
      content = c.get<std::string>();
    } else if (c.is_array()) {
      for (const auto& part : c) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
          throw bad(at + ".content", at + " content parts must be {\"type\": \"text\", \"text\": ...} (prefer serve reads text only)");
        content += part["text"].get<std::string>();
      }
    } else if (!(c.is_null() && role == "assistant")) {
      throw bad(at + ".content", at + " needs 'content' as text or a list of text parts");
    }
    out.push_back({{"role", role == "developer" ? "system" : role}, {"content", content}});
  }
  return out;
}

void prompts(const OrderedJson& body, const RequestLimits& limits, SamplingRequest& r) {
  if (!body.contains("prompt")) throw bad("prompt", "'prompt' is required");
  const OrderedJson& p = body["prompt"];
  auto ids = [&](const OrderedJson& a) {
    std::vector<int64_t> v;
    for (const auto& x : a) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0) throw bad("prompt", "token ids in 'prompt' must be non-negative integers");
      v.push_back(x.get<int64_t>());
    }
    if (v.empty()) throw bad("prompt", "a prompt of token ids must not be empty");
    return v;
  };
  if (p.is_string()) {
    r.prompts.push_back(p.get<std::string>());
  } else if (p.is_array() && !p.empty() && p[0].is_number()) {
    r.prompt_ids.push_back(ids(p));
  } else if (p.is_array() && !p.empty()) {
    for (const auto& x : p) {
      if (x.is_string()) r.prompts.push_back(x.get<std::string>());
      else if (x.is_array()) r.prompt_ids.push_back(ids(x));
      else throw bad("prompt", "'prompt' must be a string, a list of strings or a list of token-id lists");
    }
    if (!r.prompts.empty() && !r.prompt_ids.empty()) throw bad("prompt", "'prompt' mixes text and token ids");
  } else {
    throw bad("prompt", "'prompt' must be a non-empty string, list of strings or list of token ids");
  }
  if (static_cast<int64_t>(r.prompts.size() + r.prompt_ids.size()) > limits.max_prompts)
    throw bad("prompt", "'prompt' holds at most " + std::to_string(limits.max_prompts) + " prompts");
}

}  // namespace

std::string RequestError::to_json() const {
  OrderedJson e = {{"message", what()},
                   {"type", status >= 500 ? "server_error" : "invalid_request_error"},
                   {"param", param.empty() ? OrderedJson() : OrderedJson(param)},
                   {"code", code.empty() ? OrderedJson() : OrderedJson(code)}};
  return OrderedJson{{"error", e}}.dump();
}

SamplingRequest parse_request(std::string_view text, bool chat, const RequestLimits& limits) {
  OrderedJson body;
  try {
    body = parse_ordered_json(text, {.file = "request body"});
  } catch (const Error& e) {
    throw RequestError(400, std::string("the body is not valid JSON: ") + e.what());
  }
  if (!body.is_object()) throw RequestError(400, "the body must be a JSON object");
  SamplingRequest r;
  r.chat = chat;
  refuse_unsupported(body);
  if (body.contains("model") && !body["model"].is_null()) {
    if (!body["model"].is_string()) throw bad("model", "'model' must be a string");
    r.model = body["model"].get<std::string>();
  }
  if (chat) r.messages = messages(body, limits);
  else prompts(body, limits, r);
  r.max_tokens = integer(body, "max_tokens", 1, INT64_MAX);
  if (chat && !r.max_tokens) r.max_tokens = integer(body, "max_completion_tokens", 1, INT64_MAX);
  r.temperature = number(body, "temperature", 0.0, 2.0, 1.0);
  r.top_p = number(body, "top_p", 0.0, 1.0, 1.0);
  if (r.top_p == 0.0) throw bad("top_p", "'top_p' must be above 0");
  r.n = integer(body, "n", 1, limits.max_n).value_or(1);
  r.stop = stops(body, limits);
  if (auto s = integer(body, "seed", INT64_MIN, INT64_MAX)) r.seed = static_cast<uint64_t>(*s);
  r.stream = boolean(body, "stream");
  if (body.contains("stream_options") && !body["stream_options"].is_null()) {
    const OrderedJson& so = body["stream_options"];
    if (!so.is_object()) throw bad("stream_options", "'stream_options' must be an object");
    if (!r.stream) throw bad("stream_options", "'stream_options' needs stream true");
    r.include_usage = boolean(so, "include_usage");
  }
  return r;
}

}  // namespace prefer::serve
