#include "text/tokenizer_config.h"

#include "util/error.h"

namespace prefer::text {

namespace {
std::optional<std::string> special(const Json& j, const char* key, const std::string& file) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  const Json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object()) return require_string(v, "content", {.file = file, .field = key});
  throw Error("expected a string or {\"content\": ...}, found " + json_type_name(v), {.file = file, .field = key});
}
}  // namespace

TokenizerConfig parse_tokenizer_config(const Json& j, const std::string& file) {
  const ErrorContext ctx{.file = file};
  if (!j.is_object()) throw Error("expected a JSON object, found " + json_type_name(j), ctx);
  TokenizerConfig c;
  c.bos_token = special(j, "bos_token", file);
  c.eos_token = special(j, "eos_token", file);
  c.pad_token = special(j, "pad_token", file);
  c.unk_token = special(j, "unk_token", file);
  c.add_bos_token = opt_bool(j, "add_bos_token", ctx);
  c.add_eos_token = opt_bool(j, "add_eos_token", ctx);
  c.clean_up_tokenization_spaces = opt_bool(j, "clean_up_tokenization_spaces", ctx).value_or(true);
  c.tokenizer_class = opt_string(j, "tokenizer_class", ctx).value_or("");
  if (j.contains("additional_special_tokens") && j["additional_special_tokens"].is_array()) {
    for (const Json& t : j["additional_special_tokens"]) {
      if (t.is_string()) c.additional_special_tokens.push_back(t.get<std::string>());
      else if (t.is_object()) c.additional_special_tokens.push_back(require_string(t, "content", {.file = file, .field = "additional_special_tokens"}));
    }
  }
  if (j.contains("chat_template") && !j["chat_template"].is_null()) {
    const Json& t = j["chat_template"];
    if (t.is_string()) {
      c.chat_templates["default"] = t.get<std::string>();
    } else if (t.is_array()) {
      for (size_t i = 0; i < t.size(); ++i) {
        ErrorContext e{.file = file, .field = "chat_template[" + std::to_string(i) + "]"};
        c.chat_templates[require_string(t[i], "name", e)] = require_string(t[i], "template", e);
      }
    } else {
      throw Error("expected a string or a list of {name, template}", {.file = file, .field = "chat_template"});
    }
  }
  if (j.contains("model_max_length") && j["model_max_length"].is_number()) {
    double v = j["model_max_length"].get<double>();
    if (v > 0 && v < 1e18) c.model_max_length = static_cast<int64_t>(v);
  }
  return c;
}

TokenizerConfig read_tokenizer_config(const std::filesystem::path& path) {
  return parse_tokenizer_config(read_json_file(path), path.string());
}

}  // namespace prefer::text
