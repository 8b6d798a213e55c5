// `prefer tokenize --model DIR`: what the model sees. Reads text lines (or JSONL `text`, or `messages`
// rendered with the chat template under --chat) from a file or stdin, writes one JSON object per line
// {"ids": [...], "tokens": [...]}; --decode reads {"ids": [...]} (or a bare JSON list) and writes
// {"text": "..."}.
#include <fstream>
#include <iostream>

#include "cli/command.h"
#include "data/pipeline.h"
#include "util/error.h"
#include "util/json.h"
#include "util/utf8.h"

namespace prefer::cli {

void add_tokenize_command(CLI::App& app, GlobalOptions& g) {
  struct Options {
    std::string model, input = "-";
    bool jsonl = false, chat = false, decode = false, no_special = false, skip_special = false, generation_prompt = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Show the token ids (and tokens) a model's tokenizer gives, or decode ids");
  cmd->add_option("--model", o->model, "Model folder (tokenizer.json, tokenizer_config.json)")->required();
  cmd->add_option("--input", o->input, "File to read, - for stdin")->capture_default_str();
  add_bool_option(cmd, "jsonl", o->jsonl, "Input lines are JSON objects with a \"text\" field");
  add_bool_option(cmd, "chat", o->chat, "Input lines are JSON objects with \"messages\", rendered with the chat template first");
  add_bool_option(cmd, "add_generation_prompt", o->generation_prompt, "With --chat: end with the assistant turn's opening");
  add_bool_option(cmd, "no_special_tokens", o->no_special, "Do not let the tokenizer add BOS/EOS");
  add_bool_option(cmd, "decode", o->decode, "Decode {\"ids\": [...]} lines back to text");
  add_bool_option(cmd, "skip_special_tokens", o->skip_special, "With --decode: leave special tokens out");
  cmd->callback([o, &g] {
    apply_global_options(g);
    data::TextModel model = data::TextModel::load(o->model);
    std::ifstream file;
    if (o->input != "-") {
      file.open(o->input, std::ios::binary);
      if (!file) throw Error("cannot open", {.file = o->input});
    }
    std::istream& in = o->input == "-" ? std::cin : file;
    const std::string where = o->input == "-" ? "<stdin>" : o->input;
    std::string line;
    int64_t n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      ErrorContext ctx{.file = where, .line = n};
      Json out;
      if (o->decode) {
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        Json j = parse_json(line, ctx, n);
        const Json& ids = j.is_array() ? j : require_field(j, "ids", ctx);
        std::vector<int32_t> v;
        for (const Json& x : ids) v.push_back(static_cast<int32_t>(json_to_int(x, {.file = where, .line = n, .field = "ids"})));
        out = {{"text", model.tokenizer.decode(v, o->skip_special)}};
      } else {
        std::string text;
        bool special = !o->no_special;
        if (o->chat) {
          OrderedJson j = parse_ordered_json(line, ctx, n);
          if (!j.contains("messages") || !j["messages"].is_array()) throw Error("expected a list of messages", {.file = where, .line = n, .field = "messages"});
          if (!model.templ()) throw Error("the model has no chat template", {.file = o->model, .field = "chat_template"});
          text::ChatRenderOptions ro;
          ro.add_generation_prompt = o->generation_prompt;
          ro.bos_token = model.tokenizer.config().bos_token;
          ro.eos_token = model.tokenizer.config().eos_token;
          text = model.templ()->render(j["messages"], ro);
          special = false;  // the template writes the special tokens, as transformers' apply_chat_template
        } else if (o->jsonl) {
          text = require_string(parse_json(line, ctx, n), "text", ctx);
        } else {
          text = line;
        }
        try {
          check_utf8(text, ctx);
          std::vector<int32_t> ids = model.tokenizer.encode(text, special);
          out = {{"ids", ids}, {"tokens", model.tokenizer.tokens(ids)}};
        } catch (const Error& e) {
          throw e.with_defaults(ctx);
        }
      }
      std::cout << out.dump() << "\n";
    }
  });
}

}  // namespace prefer::cli
