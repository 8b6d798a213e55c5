// Chat templates: the Jinja template in a model's tokenizer files that turns a list of messages into
// the model's prompt text, rendered the way transformers' apply_chat_template renders it.
//
//   ChatTemplate t = load_chat_template(folder.tokenizer.tokenizer_config_json, folder.tokenizer.chat_template_jinja);
//   std::string prompt = t.render(messages, {.add_generation_prompt = true, .bos_token = "<s>"});
//
// The template sees the variables transformers passes: `messages`, `tools` (none when not given),
// `documents` (none), `add_generation_prompt`, `bos_token` and `eos_token` (undefined when not set, as
// when a tokenizer has no such token), plus `extra_context` (e.g. `enable_thinking`, `date_string`).
// Errors are prefer::Error naming the template's origin and line, with the column in the message; a
// template's raise_exception("...") is an error whose message() is the template's text.
// The supported Jinja subset and the differences from Python Jinja2 are in docs/chat_templates.md.
#pragma once

#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace prefer::text {

namespace jinja {
struct Template;
}

struct ChatRenderOptions {
  bool add_generation_prompt = false;
  std::optional<std::string> bos_token, eos_token;
  // null, or an array of tool schemas ({"type": "function", "function": {...}}).
  nlohmann::ordered_json tools;
  // An object of further template variables. `messages`, `tools`, `documents` and
  // `add_generation_prompt` have their own fields and are rejected here.
  nlohmann::ordered_json extra_context;
  // "Now" for strftime_now(); the current time when empty.
  std::function<std::time_t()> clock;
};

class ChatTemplate {
 public:
  // Parses `source`; `origin` names it in errors (a file, or "file (chat_template)").
  static ChatTemplate parse(std::string source, std::string origin);

  // Renders `messages` (a JSON array of message objects; use nlohmann::ordered_json so that key order,
  // which `tojson` shows, is the input's). Thread-safe: a parsed template can render concurrently.
  std::string render(const nlohmann::ordered_json& messages, const ChatRenderOptions& options = {}) const;

  const std::string& source() const { return source_; }
  const std::string& origin() const;
  // True when the model also has a "tool_use" template, which render() picks when tools are given.
  bool has_tool_use_variant() const { return tool_use_ != nullptr; }

 private:
  friend ChatTemplate load_chat_template(const std::filesystem::path&, const std::filesystem::path&, const std::string&);
  std::shared_ptr<const jinja::Template> main_, tool_use_;
  std::string source_;
};

// Finds and parses a model's chat template:
//   - chat_template.jinja (transformers >= 4.50 saves it apart) wins over tokenizer_config.json, as in
//     transformers; a named one is additional_chat_templates/<name>.jinja beside it;
//   - tokenizer_config.json's "chat_template" is a string, or a list of {"name", "template"}: then
//     `name` picks one, and with no name it is "default", with "tool_use" used by render() when tools are
//     given (transformers' choice).
// Either path may be empty (absent). No template, an unknown name, or a parse error is a prefer::Error.
ChatTemplate load_chat_template(const std::filesystem::path& tokenizer_config_json,
                                const std::filesystem::path& chat_template_jinja, const std::string& name = "");

}  // namespace prefer::text
