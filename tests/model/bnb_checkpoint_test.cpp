// Checkpoints that are already quantised: a bitsandbytes 4-bit folder written in transformers' layout
// (the tensor names and quant_state JSON documented in bnb_checkpoint.h) loads to the same model as
// quantising at load; other methods and absurd configs are refused with errors naming the field.
#include "model/bnb_checkpoint.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "model/loader.h"
#include "model/tensor_convert.h"
#include "model_test_util.h"
#include "util/error.h"

namespace prefer::model {
namespace {
namespace fs = std::filesystem;

// Copies llama-tiny with every linear weight replaced by bitsandbytes' NF4 double-quant tensors.
fs::path write_bnb_copy(const fs::path& dir) {
  const fs::path src = test::model_fixture("llama-tiny");
  fs::create_directories(dir);
  fs::copy_file(src / "tokenizer.json", dir / "tokenizer.json", fs::copy_options::overwrite_existing);
  Json cfg = read_json_file(src / "config.json");
  cfg["quantization_config"] = {{"quant_method", "bitsandbytes"}, {"load_in_4bit", true}, {"bnb_4bit_quant_type", "nf4"},
                                {"bnb_4bit_use_double_quant", true}, {"bnb_4bit_compute_dtype", "float32"}};
  write_json_file(dir / "config.json", cfg);
  CausalLM m = load_model(src);
  std::vector<at::Tensor> keep;
  std::vector<io::TensorData> data;
  auto add = [&](const std::string& name, const at::Tensor& t) {
    keep.emplace_back();
    data.push_back(tensor_data(name, t.contiguous(), keep.back()));
  };
  for (const auto& [name, t] : m.named_parameters()) {
    if (name.find("_proj.weight") == std::string::npos) {
      add(name, t);
      continue;
    }
    QuantizedWeight q = quantize(t, {.type = QuantType::NF4, .double_quant = true});
    add(name, q.codes.view({-1, 1}));  // bitsandbytes keeps codes as [n / 2, 1]
    add(name + ".absmax", q.absmax);
    add(name + ".quant_map", q.code);
    add(name + ".nested_absmax", q.nested_absmax);
    add(name + ".nested_quant_map", q.nested_code);
    Json st = {{"quant_type", "nf4"}, {"blocksize", 64}, {"dtype", "float32"}, {"shape", q.shape},
               {"nested_blocksize", 256}, {"nested_offset", q.nested_offset}, {"nested_dtype", "float32"}};
    const std::string s = st.dump();
    add(name + ".quant_state.bitsandbytes__nf4", at::tensor(std::vector<uint8_t>(s.begin(), s.end()), at::kByte));
  }
  io::write_safetensors(dir / "model.safetensors", data);
  return dir;
}

TEST(BnbCheckpointTest, PrequantizedFolderEqualsQuantisingAtLoad) {
  prefer::test::TempDir tmp;
  const fs::path dir = write_bnb_copy(tmp / "bnb4");
  CausalLM pre = load_model(dir);
  ASSERT_TRUE(is_quantized(pre));
  QuantizationConfig qc;
  qc.load_in_4bit = true;
  qc.bnb_4bit_use_double_quant = true;
  CausalLM now = load_model(test::model_fixture("llama-tiny"), {.quantization = qc});
  test::FixtureBatch b = test::fixture_batch("llama-tiny", "right");
  at::NoGradGuard ng;
  at::Tensor a = pre.logits(pre.forward(b.ids, b.positions, {.key_mask = b.mask}));
  at::Tensor c = now.logits(now.forward(b.ids, b.positions, {.key_mask = b.mask}));
  EXPECT_LT(test::max_abs_diff_at(a, c, b.mask), 1e-7);
  // Asking for another quantisation of it is refused.
  QuantizationConfig q8;
  q8.load_in_8bit = true;
  try {
    load_model(dir, {.quantization = q8});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.context().field, "quantization_config");
  }
}

TEST(BnbCheckpointTest, OtherMethodsAndAbsurdSizesAreErrorsNamingTheField) {
  const fs::path src = test::model_fixture("llama-tiny");
  prefer::test::TempDir tmp;
  const fs::path dir = tmp / "gptq";
  fs::copy(src, dir, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  Json cfg = read_json_file(src / "config.json");
  cfg["quantization_config"] = {{"quant_method", "gptq"}, {"bits", 4}};
  write_json_file(dir / "config.json", cfg);
  try {
    load_model(dir);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.context().field, "quantization_config.quant_method");
    EXPECT_NE(std::string(e.what()).find("gptq"), std::string::npos);
  }
  cfg.erase("quantization_config");
  cfg["hidden_size"] = int64_t{1} << 40;
  write_json_file(dir / "config.json", cfg);
  try {
    load_model(dir);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.context().field, "hidden_size");
    EXPECT_NE(std::string(e.what()).find("need"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace prefer::model
