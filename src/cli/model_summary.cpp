#include "cli/model_summary.h"

#include <fmt/format.h>

#include <map>

#include "io/checkpoint.h"
#include "io/model_folder.h"
#include "util/strings.h"

namespace prefer::cli {

Json summarize_model_folder(const std::filesystem::path& dir, bool with_tensors) {
  io::ModelFolder folder = io::open_model_folder(dir);
  const io::ModelConfig& c = folder.config;
  Json s;
  s["path"] = dir.string();
  s["architecture"] = c.architecture;
  s["model_type"] = c.model_type;
  s["head"] = c.head == io::HeadKind::CausalLM ? "causal LM" : fmt::format("sequence classification ({} labels)", c.num_labels);
  s["num_hidden_layers"] = c.num_hidden_layers;
  s["hidden_size"] = c.hidden_size;
  s["intermediate_size"] = c.intermediate_size;
  s["vocab_size"] = c.vocab_size;
  s["num_attention_heads"] = c.num_attention_heads;
  s["num_key_value_heads"] = c.num_key_value_heads;
  s["head_dim"] = c.head_dim;
  s["layer_window"] = c.layer_window;
  s["rope_theta"] = c.rope_theta;
  s["rope_scaling"] = c.rope_scaling.type;
  s["rms_norm_eps"] = c.rms_norm_eps;
  s["activation"] = std::string(io::activation_name(c.activation));
  s["tie_word_embeddings"] = c.tie_word_embeddings;
  s["torch_dtype"] = c.torch_dtype;
  s["bos_token_id"] = c.bos_token_id ? Json(*c.bos_token_id) : Json(nullptr);
  s["eos_token_ids"] = c.eos_token_ids;
  s["warnings"] = c.warnings;

  io::Checkpoint ckpt = io::Checkpoint::open_folder(dir);
  std::map<std::string, int64_t> dtypes;
  Json tensors = Json::array();
  for (const auto& name : ckpt.names()) {
    const io::TensorInfo& t = ckpt.info(name);
    dtypes[std::string(io::dtype_name(t.dtype))] += 1;
    if (with_tensors) tensors.push_back({{"name", name}, {"dtype", io::dtype_name(t.dtype)}, {"shape", t.shape}});
  }
  Json files = Json::array();
  for (const auto& sh : ckpt.shards()) files.push_back(sh->path().filename().string());
  s["weights"] = {{"files", files}, {"tensors", ckpt.names().size()}, {"parameters", ckpt.total_elements()},
                  {"bytes", ckpt.total_bytes()}, {"dtypes", dtypes}};
  if (with_tensors) s["weights"]["list"] = tensors;
  Json tok = Json::array();
  for (const auto& p : folder.tokenizer.all()) tok.push_back(p.filename().string());
  s["tokenizer_files"] = tok;
  return s;
}

namespace {
std::string with_commas(int64_t n) {
  std::string s = std::to_string(n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}
}  // namespace

void print_model_summary(const Json& s, std::ostream& out) {
  auto row = [&](std::string_view k, const std::string& v) { out << fmt::format("  {:<13}{}\n", k, v); };
  out << "model folder " << s["path"].get<std::string>() << "\n";
  row("architecture", fmt::format("{} ({}), {} head", s["architecture"].get<std::string>(),
                                  s["model_type"].get<std::string>(), s["head"].get<std::string>()));
  row("sizes", fmt::format("{} layers, hidden {}, intermediate {}, vocab {}", s["num_hidden_layers"].get<int64_t>(),
                           s["hidden_size"].get<int64_t>(), s["intermediate_size"].get<int64_t>(),
                           s["vocab_size"].get<int64_t>()));
  std::vector<int64_t> windows = s["layer_window"];
  int64_t windowed = 0;
  for (int64_t w : windows) windowed += w > 0;
  row("attention", fmt::format("{} query / {} key-value heads x head_dim {}, {}", s["num_attention_heads"].get<int64_t>(),
                               s["num_key_value_heads"].get<int64_t>(), s["head_dim"].get<int64_t>(),
                               windowed == 0 ? std::string("full attention")
                                             : fmt::format("sliding window {} on {} of {} layers", *std::max_element(windows.begin(), windows.end()),
                                                           windowed, windows.size())));
  row("rope", fmt::format("theta {:g}, scaling {}", s["rope_theta"].get<double>(), s["rope_scaling"].get<std::string>()));
  row("block", fmt::format("RMSNorm eps {:g}, {} MLP, tied embeddings {}", s["rms_norm_eps"].get<double>(),
                           s["activation"].get<std::string>(), s["tie_word_embeddings"].get<bool>() ? "yes" : "no"));
  const Json& w = s["weights"];
  std::vector<std::string> dts;
  for (auto it = w["dtypes"].begin(); it != w["dtypes"].end(); ++it) dts.push_back(fmt::format("{} {}", it.key(), it.value().get<int64_t>()));
  std::vector<std::string> files = w["files"];
  row("weights", fmt::format("{}: {} tensors, {} parameters, {:.1f} MB ({})", join(files, " + "),
                             w["tensors"].get<int64_t>(), with_commas(w["parameters"].get<int64_t>()),
                             w["bytes"].get<double>() / 1e6, join(dts, ", ")));
  std::vector<std::string> tok = s["tokenizer_files"];
  row("tokenizer", tok.empty() ? "none found" : join(tok, ", "));
  if (w.contains("list"))
    for (const Json& t : w["list"]) {
      std::vector<std::string> dims;
      for (const Json& d : t["shape"]) dims.push_back(std::to_string(d.get<int64_t>()));
      out << fmt::format("    {:<52} {:<5} [{}]\n", t["name"].get<std::string>(), t["dtype"].get<std::string>(), join(dims, ", "));
    }
  for (const Json& warn : s["warnings"]) out << "  warning: " << warn.get<std::string>() << "\n";
}

}  // namespace prefer::cli
