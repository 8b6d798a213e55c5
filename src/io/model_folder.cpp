#include "io/model_folder.h"

#include "util/error.h"
#include "util/file.h"

namespace prefer::io {
namespace fs = std::filesystem;

GenerationConfig parse_generation_config(const Json& j, const std::string& file) {
  const ErrorContext ctx{.file = file};
  if (!j.is_object()) throw Error("expected a JSON object, found " + json_type_name(j), ctx);
  GenerationConfig g;
  g.bos_token_id = opt_int(j, "bos_token_id", ctx);
  g.eos_token_ids = opt_int_list(j, "eos_token_id", ctx);
  g.pad_token_id = opt_int(j, "pad_token_id", ctx);
  g.do_sample = opt_bool(j, "do_sample", ctx);
  g.temperature = opt_number(j, "temperature", ctx);
  g.top_k = opt_int(j, "top_k", ctx);
  g.top_p = opt_number(j, "top_p", ctx);
  g.max_new_tokens = opt_int(j, "max_new_tokens", ctx);
  g.max_length = opt_int(j, "max_length", ctx);
  if (g.temperature && *g.temperature < 0) throw Error("must be >= 0", {.file = file, .field = "temperature"});
  if (g.top_p && (*g.top_p <= 0 || *g.top_p > 1)) throw Error("must be in (0, 1]", {.file = file, .field = "top_p"});
  if (g.top_k && *g.top_k < 0) throw Error("must be >= 0", {.file = file, .field = "top_k"});
  return g;
}

std::vector<fs::path> TokenizerFiles::all() const {
  std::vector<fs::path> out;
  for (const fs::path* p : {&tokenizer_json, &tokenizer_config_json, &special_tokens_map_json, &chat_template_jinja,
                            &chat_template_json})
    if (!p->empty()) out.push_back(*p);
  return out;
}

ModelFolder open_model_folder(const fs::path& dir) {
  require_exists(dir, "model folder");
  if (!fs::is_directory(dir)) throw Error("expected a model folder, found a file", {.file = dir.string()});
  ModelFolder m;
  m.dir = dir;
  if (!fs::exists(dir / "config.json")) {
    if (fs::exists(dir / "adapter_config.json"))
      throw Error("this is a PEFT adapter folder, not a model folder", {.file = dir.string(), .field = "config.json",
                  .hint = "pass the base model folder as --model; an adapter is loaded on top of it"});
    throw Error("no config.json in the model folder", {.file = dir.string(), .field = "config.json",
                .hint = "point --model at the folder that save_pretrained wrote"});
  }
  m.config = read_model_config(dir / "config.json");
  if (fs::exists(dir / "generation_config.json"))
    m.generation = parse_generation_config(read_json_file(dir / "generation_config.json"),
                                           (dir / "generation_config.json").string());
  if (fs::exists(dir / "model.safetensors.index.json")) m.weights = dir / "model.safetensors.index.json";
  else if (fs::exists(dir / "model.safetensors")) m.weights = dir / "model.safetensors";
  auto found = [&](const char* name) { return fs::exists(dir / name) ? dir / name : fs::path(); };
  m.tokenizer.tokenizer_json = found("tokenizer.json");
  m.tokenizer.tokenizer_config_json = found("tokenizer_config.json");
  m.tokenizer.special_tokens_map_json = found("special_tokens_map.json");
  m.tokenizer.chat_template_jinja = found("chat_template.jinja");
  m.tokenizer.chat_template_json = found("chat_template.json");
  return m;
}

}  // namespace prefer::io
