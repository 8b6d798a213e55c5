// `prefer export --model DIR [--adapter A] --format hf|gguf ...`: one model, adapters merged in, as
//   hf    a plain Hugging Face folder in the dtype asked for (--dtype), which transformers, vLLM or a
//         converter loads without PEFT;
//   gguf  one GGUF file for llama.cpp, Ollama and LM Studio (--outtype f32|f16|bf16|q8_0|q4_0), with
//         the tokenizer and chat template in its metadata (data/gguf_export.h);
//   gguf-lora  the adapter alone as a GGUF LoRA that llama.cpp applies on top of the base's GGUF.
// Every output of a run (a PEFT adapter, a run folder, a 4-bit base with its adapter) goes through it.
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <iostream>

#include "cli/command.h"
#include "data/gguf_export.h"
#include "io/gguf.h"
#include "io/hf_config.h"
#include "model/loader.h"
#include "model/lora.h"
#include "model/model_source.h"
#include "model/quantized_model.h"
#include "model/save.h"
#include "util/error.h"
#include "util/json.h"

namespace prefer::cli {
namespace fs = std::filesystem;

namespace {

// HF's dtype names (and the short ones) -> ScalarType; "auto": the base checkpoint's torch_dtype.
at::ScalarType export_dtype(const std::string& name, const fs::path& base) {
  std::string n = name;
  if (n == "auto") {
    n = io::read_model_config(base / "config.json").torch_dtype;  // torch_dtype or 5.x's dtype
    if (n.empty()) n = "float32";
  }
  if (n == "bfloat16" || n == "bf16") return at::kBFloat16;
  if (n == "float16" || n == "fp16" || n == "half") return at::kHalf;
  if (n == "float32" || n == "fp32" || n == "float") return at::kFloat;
  throw Error("must be bfloat16, float16, float32 or auto, not '" + name + "'", {.field = "dtype"});
}

// Merged in float32 whatever the output type: the adapter's product B·A·scale is added once to the
// float32 base and rounded once, as PEFT's merge_and_unload on a float32 model followed by .to(dtype).
model::CausalLM dense_model(const model::ModelSource& src) {
  model::CausalLM m = model::load_model_source(src, {.dtype = at::kFloat});
  if (model::is_quantized(m)) model::dequantize_model(m);  // a 4-bit/8-bit base: its dequantised values
  return m;
}

}  // namespace

void add_export_command(CLI::App& app, GlobalOptions& g) {
  struct Options {
    std::string model, adapter, format = "hf", dtype = "auto", outtype = "f16", output;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("export", "Write a model (adapters merged in) as a Hugging Face folder or a GGUF file, or an adapter as a GGUF LoRA");
  cmd->add_option("--model", o->model, "Model folder, run folder or PEFT adapter")->required();
  cmd->add_option("--adapter", o->adapter, "A PEFT adapter merged into --model");
  cmd->add_option("--format", o->format, "hf (a Hugging Face folder), gguf (one file for llama.cpp) or gguf-lora (the adapter alone, for llama.cpp's --lora)")->capture_default_str();
  cmd->add_option("--dtype", o->dtype, "hf: weights' dtype: bfloat16, float16, float32, or auto (the base checkpoint's)")->capture_default_str();
  cmd->add_option("--outtype", o->outtype, "gguf: f32, f16, bf16, q8_0 or q4_0 (vectors stay f32)")->capture_default_str();
  cmd->add_option("--output", o->output, "hf: the folder to write (must not exist, or be empty); gguf: the .gguf file")->required();
  cmd->callback([o, &g] {
    apply_global_options(g);
    if (o->format != "hf" && o->format != "gguf" && o->format != "gguf-lora")
      throw Error("unknown format '" + o->format + "'", {.field = "format",
                  .hint = "hf (a Hugging Face folder), gguf (llama.cpp) or gguf-lora (a LoRA adapter for llama.cpp)"});
    const fs::path out = o->output;
    const bool folder = o->format == "hf";  // an empty folder may be the hf target; a .gguf path must not exist at all
    if (fs::exists(out) && !(folder && fs::is_directory(out) && fs::is_empty(out)))
      throw Error("already exists; export never replaces it", {.file = out.string(), .field = "output",
                  .hint = "remove it or choose another --output"});
    const model::ModelSource src =
        model::resolve_model_source(o->model, o->adapter.empty() ? std::nullopt : std::optional<fs::path>(o->adapter));
    if (o->format == "hf") {
      const at::ScalarType dtype = export_dtype(o->dtype, src.base);
      model::save_pretrained(dense_model(src), out, {.dtype = dtype, .tokenizer_from = src.tokenizer});
      std::cout << fmt::format("exported {} as a Hugging Face folder ({}) to {}\n", src.describe(), c10::toString(dtype), out.string());
      return;
    }
    if (o->format == "gguf-lora") {
      // The adapter alone, applied by llama.cpp on top of the base's GGUF (exported from the same base).
      if (src.adapters.size() != 1)
        throw Error(src.adapters.empty() ? "gguf-lora exports an adapter; --model is a full model" : "gguf-lora exports one adapter at a time",
                    {.field = src.adapters.empty() ? "model" : "adapter",
                     .hint = "--model ADAPTER (or --model BASE --adapter ADAPTER); several stacked adapters: export --format gguf, merged"});
      model::CausalLM base = model::load_model(src.base, {.dtype = at::kFloat});
      const model::LoraConfig lc = model::load_adapter(base, src.adapters.front());
      data::GgufExport g = data::gguf_lora_from_model(base, lc, src.adapters.front().filename().string());
      io::write_gguf(out, g.file);
      std::cout << fmt::format("exported the adapter {} as a GGUF LoRA ({} tensors, r={}) to {}\n", src.adapters.front().string(),
                               g.file.tensors.size(), lc.r, out.string());
      return;
    }
    const io::GgmlType type = data::parse_outtype(o->outtype);
    data::GgufExport g = data::gguf_from_model(dense_model(src), src.tokenizer, {.outtype = type, .name = src.base.filename().string()});
    for (const std::string& w : g.warnings) std::cerr << "warning: " << w << "\n";
    io::write_gguf(out, g.file);
    std::cout << fmt::format("exported {} as GGUF ({}, {} tensors) to {}\n", src.describe(), io::ggml_type_name(type), g.file.tensors.size(), out.string());
  });
}

}  // namespace prefer::cli
