// `prefer export --format hf`: a PEFT adapter merged into a plain HF folder in the dtype asked for. The
// merged weights are checked against W + scale * B·A computed here from the two input files, and the
// float32 export against the unmerged adapter's forward.
#include <ATen/ATen.h>

#include "cli/adapter_files.h"
#include "cli/cli_run.h"
#include "io/checkpoint.h"
#include "model/loader.h"
#include "model/lora.h"
#include "model/tensor_convert.h"
#include "test_util.h"
#include "util/json.h"

namespace prefer {
namespace {

at::Tensor read(const std::filesystem::path& folder, const std::string& name) {
  const auto peft = folder / "adapter_model.safetensors";
  io::Checkpoint c = std::filesystem::exists(peft) ? io::Checkpoint::open_file(peft) : io::Checkpoint::open_folder(folder);
  return model::tensor_from_view(c.view(name)).to(at::kFloat, /*non_blocking=*/false, /*copy=*/true);
}

at::Tensor last_logits(const model::CausalLM& m) {
  at::Tensor ids = at::arange(1, 9, at::kLong).unsqueeze(0);
  at::NoGradGuard ng;
  return m.logits(m.forward(ids, at::arange(0, 8, at::kLong).unsqueeze(0), {}));
}

}  // namespace

TEST(ExportE2E, MergesAnAdapterIntoAnHfFolderInTheChosenDtype) {
  test::TempDir tmp;
  const model::LoraConfig c{.r = 4, .lora_alpha = 8, .target_modules = {"q_proj", "down_proj"},
                            .base_model_name_or_path = test::fixture("models/llama-tiny").string()};
  test::write_random_adapter(test::fixture("models/llama-tiny"), tmp / "adapter", c);
  auto r = test::run_prefer("export --threads 1 --model " + (tmp / "adapter").string() + " --format hf --dtype bfloat16 --output " +
                            (tmp / "bf16").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_json_file(tmp / "bf16" / "config.json").value("torch_dtype", ""), "bfloat16");
  EXPECT_TRUE(std::filesystem::exists(tmp / "bf16" / "tokenizer.json"));
  EXPECT_FALSE(std::filesystem::exists(tmp / "bf16" / "adapter_config.json"));
  {
    io::Checkpoint out = io::Checkpoint::open_folder(tmp / "bf16");
    for (const std::string& n : out.names()) EXPECT_EQ(out.info(n).dtype, io::DType::BF16) << n;
  }
  // W + (alpha / r) * B·A from the files, rounded once to bf16; a different float32 summation order may
  // land one bf16 ulp away at a rounding boundary.
  for (const std::string layer : {"q_proj", "down_proj"}) {
    const std::string mod = layer == "q_proj" ? "self_attn." + layer : "mlp." + layer;
    const std::string w = "model.layers.1." + mod + ".weight";
    at::Tensor base = read(test::fixture("models/llama-tiny"), w).to(at::kDouble);
    at::Tensor A = read(tmp / "adapter", "base_model.model.model.layers.1." + mod + ".lora_A.weight").to(at::kDouble);
    at::Tensor B = read(tmp / "adapter", "base_model.model.model.layers.1." + mod + ".lora_B.weight").to(at::kDouble);
    at::Tensor want = (base + 2.0 * at::matmul(B, A)).to(at::kFloat);
    at::Tensor got = read(tmp / "bf16", w);
    EXPECT_GT((want - base.to(at::kFloat)).abs().max().item<double>(), 1e-3) << layer;  // the adapter matters
    EXPECT_LE((got - want).abs().max().item<double>(), (want.abs() * (1.0 / 128)).max().item<double>()) << layer;
    EXPECT_LT((got - want.to(at::kBFloat16).to(at::kFloat)).ne(0).to(at::kDouble).mean().item<double>(), 0.01) << layer;
  }
  // Float32: the merged folder computes what base + adapter compute.
  r = test::run_prefer("export --threads 1 --model " + test::fixture("models/llama-tiny").string() + " --adapter " +
                       (tmp / "adapter").string() + " --dtype float32 --output " + (tmp / "f32").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  model::CausalLM merged = model::load_model(tmp / "f32");
  model::CausalLM adapted = model::load_model(test::fixture("models/llama-tiny"));
  model::load_adapter(adapted, tmp / "adapter");
  EXPECT_TRUE(at::allclose(last_logits(merged), last_logits(adapted), 1e-4, 1e-5));

  // Bad input: an existing folder is never replaced; unknown dtype and format name their option.
  r = test::run_prefer("export --model " + (tmp / "adapter").string() + " --output " + (tmp / "f32").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("already exists"), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::exists(tmp / "f32" / "model.safetensors"));
  r = test::run_prefer("export --model " + (tmp / "adapter").string() + " --dtype int8 --output " + (tmp / "x").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("dtype"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(tmp / "x"));
  r = test::run_prefer("export --model " + (tmp / "adapter").string() + " --format onnx --output " + (tmp / "x").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("format"), std::string::npos) << r.output;
}

}  // namespace prefer
