#include "text/chat_template.h"

#include <map>
#include <optional>
#include <vector>

#include "text/jinja_error.h"
#include "text/jinja_interpreter.h"
#include "text/jinja_parser.h"
#include "util/file.h"
#include "util/json.h"
#include "util/strings.h"
#include "util/utf8.h"

namespace prefer::text {

namespace fs = std::filesystem;
using OJson = nlohmann::ordered_json;

namespace {

// Invalid UTF-8 cannot reach a Python template (str holds code points), so it is rejected up front.
void check_strings(const OJson& j, const std::string& where) {
  if (j.is_string()) {
    check_utf8(j.get_ref<const std::string&>(), {.file = {}, .line = 0, .field = where, .hint = {}});
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) check_strings(j[i], where + "[" + std::to_string(i) + "]");
  } else if (j.is_object()) {
    for (const auto& [k, v] : j.items()) check_strings(v, where + "." + k);
  }
}

std::string json_kind(const OJson& j) {
  switch (j.type()) {
    case OJson::value_t::null: return "null";
    case OJson::value_t::boolean: return "a boolean";
    case OJson::value_t::string: return "a string";
    case OJson::value_t::array: return "an array";
    case OJson::value_t::object: return "an object";
    default: return "a number";
  }
}

}  // namespace

ChatTemplate ChatTemplate::parse(std::string source, std::string origin) {
  ChatTemplate t;
  t.main_ = jinja::parse_template(source, std::move(origin));
  t.source_ = std::move(source);
  return t;
}

const std::string& ChatTemplate::origin() const { return main_ ? main_->origin : tool_use_->origin; }

std::string ChatTemplate::render(const OJson& messages, const ChatRenderOptions& options) const {
  const jinja::Template* tmpl = main_.get();
  if (tool_use_ && !options.tools.is_null()) tmpl = tool_use_.get();
  if (tmpl == nullptr)
    throw Error("this model's chat templates have no 'default' one, only 'tool_use', which needs tools",
                {.file = origin(), .line = 0, .field = {}, .hint = "pass tools, or choose a template by name"});
  ErrorContext ctx{.file = tmpl->origin, .line = 0, .field = {}, .hint = {}};
  if (!messages.is_array())
    throw Error("messages must be a JSON array of message objects, got " + json_kind(messages), ctx);
  if (!options.tools.is_null() && !options.tools.is_array())
    throw Error("tools must be null or an array of tool schemas, got " + json_kind(options.tools), ctx);
  if (!options.extra_context.is_null() && !options.extra_context.is_object())
    throw Error("extra_context must be a JSON object, got " + json_kind(options.extra_context), ctx);
  check_strings(messages, "messages");
  check_strings(options.tools, "tools");
  check_strings(options.extra_context, "extra_context");

  jinja::ValueDict vars;
  try {
    vars.set("messages", jinja::Value::from_json(messages));
    vars.set("tools", jinja::Value::from_json(options.tools));
    vars.set("documents", jinja::Value::none());
    vars.set("add_generation_prompt", jinja::Value::boolean(options.add_generation_prompt));
    if (options.bos_token) vars.set("bos_token", jinja::Value::string(*options.bos_token));
    if (options.eos_token) vars.set("eos_token", jinja::Value::string(*options.eos_token));
    if (options.extra_context.is_object()) {
      for (const auto& [k, v] : options.extra_context.items()) {
        if (k == "messages" || k == "tools" || k == "documents" || k == "add_generation_prompt")
          throw Error("extra_context must not set '" + k + "': it has its own render option", ctx);
        vars.set(k, jinja::Value::from_json(v));
      }
    }
  } catch (const jinja::EvalError& e) {  // JSON a template cannot see (binary values)
    throw Error(e.what(), ctx);
  }
  return jinja::render(*tmpl, vars, {.clock = options.clock});
}

ChatTemplate load_chat_template(const fs::path& tokenizer_config_json, const fs::path& chat_template_jinja,
                                const std::string& name) {
  ChatTemplate t;
  auto parse_file = [](const fs::path& p) { return std::pair(read_file(p), p.string()); };
  auto finish = [&](std::pair<std::string, std::string> main, std::optional<std::pair<std::string, std::string>> tool) {
    if (!main.second.empty()) {
      t.main_ = jinja::parse_template(main.first, main.second);
      t.source_ = std::move(main.first);
    }
    if (tool) {
      t.tool_use_ = jinja::parse_template(tool->first, tool->second);
      if (t.source_.empty()) t.source_ = std::move(tool->first);
    }
    return t;
  };

  if (!chat_template_jinja.empty() && fs::exists(chat_template_jinja)) {
    fs::path extra_dir = chat_template_jinja.parent_path() / "additional_chat_templates";
    if (!name.empty() && name != "default") {
      fs::path named = extra_dir / (name + ".jinja");
      if (!fs::exists(named))
        throw Error("the model has no chat template named '" + name + "'",
                    {.file = chat_template_jinja.string(), .line = 0, .field = {},
                     .hint = "its only templates are " + chat_template_jinja.filename().string() +
                             " (the default) and any .jinja files in additional_chat_templates/"});
      return finish(parse_file(named), std::nullopt);
    }
    std::optional<std::pair<std::string, std::string>> tool;
    if (name.empty() && fs::exists(extra_dir / "tool_use.jinja")) tool = parse_file(extra_dir / "tool_use.jinja");
    return finish(parse_file(chat_template_jinja), tool);
  }

  if (tokenizer_config_json.empty() || !fs::exists(tokenizer_config_json))
    throw Error("the model has no chat template (neither chat_template.jinja nor tokenizer_config.json)",
                {.file = tokenizer_config_json.empty() ? chat_template_jinja.string() : tokenizer_config_json.string(),
                 .line = 0, .field = {}, .hint = "use a chat/instruct model, or add a chat_template to its tokenizer_config.json"});
  const std::string file = tokenizer_config_json.string();
  Json config = read_json_file(tokenizer_config_json);
  ErrorContext ctx{.file = file, .line = 0, .field = "chat_template", .hint = {}};
  if (!config.is_object() || !config.contains("chat_template") || config["chat_template"].is_null()) {
    ctx.hint = "use a chat/instruct model, or add a chat_template to tokenizer_config.json";
    throw Error("the tokenizer has no chat template", ctx);
  }
  const Json& ct = config["chat_template"];
  if (ct.is_string()) {
    if (!name.empty() && name != "default")
      throw Error("there is no chat template named '" + name + "': the tokenizer has a single template", ctx);
    return finish({ct.get<std::string>(), file + " (chat_template)"}, std::nullopt);
  }
  if (!ct.is_array()) throw Error("expected a string or a list of {name, template}, found " + json_type_name(ct), ctx);

  std::vector<std::string> names;
  std::map<std::string, std::string> templates;
  for (size_t i = 0; i < ct.size(); ++i) {
    ErrorContext item = ctx;
    item.field = "chat_template[" + std::to_string(i) + "]";
    std::string n = require_string(ct[i], "name", item);
    templates[n] = require_string(ct[i], "template", item);
    names.push_back(n);
  }
  auto named = [&](const std::string& n) { return std::pair(templates.at(n), file + " (chat_template '" + n + "')"); };
  if (!name.empty()) {
    if (!templates.count(name)) {
      std::string guess = suggest_name(name, names);
      ctx.hint = guess.empty() ? "the templates are: " + join(names, ", ") : "did you mean '" + guess + "'?";
      throw Error("there is no chat template named '" + name + "'", ctx);
    }
    return finish(named(name), std::nullopt);
  }
  std::optional<std::pair<std::string, std::string>> tool;
  if (templates.count("tool_use")) tool = named("tool_use");
  if (!templates.count("default") && !tool) {
    ctx.hint = "choose one by name: " + join(names, ", ");
    throw Error("the tokenizer has several chat templates and none is named 'default'", ctx);
  }
  return finish(templates.count("default") ? named("default") : std::pair<std::string, std::string>{}, tool);
}

}  // namespace prefer::text
