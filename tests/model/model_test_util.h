// Helpers shared by the model/ tests: the HF fixtures (tests/fixtures/models/<name>) and small
// hand-made configs with random weights.
#pragma once

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <string>

#include "io/hf_config.h"
#include "io/safetensors.h"
#include "model/causal_lm.h"
#include "model/runtime.h"
#include "model/tensor_convert.h"
#include "test_util.h"
#include "util/json.h"

namespace prefer::model::test {

// The models under test are tiny: one thread is fastest, and on a loaded 2-core CI machine extra
// OpenMP/BLAS threads spin-wait for each other (a 30 ms test took 2 s with two).
inline const bool kSingleThreaded = (set_num_threads(1), true);

inline std::filesystem::path model_fixture(const std::string& name) { return prefer::test::fixture("models/" + name); }

// A tensor of expected.safetensors.
inline at::Tensor expected_tensor(const std::string& model, const std::string& name) {
  io::SafetensorsFile f(model_fixture(model) / "expected.safetensors");
  return tensor_from_view(f.view(name));
}

// One padded batch of case.json ("left" or "right").
struct FixtureBatch {
  at::Tensor ids, mask, positions;  // [B, T] int64
};
inline FixtureBatch fixture_batch(const std::string& model, const std::string& side) {
  return {expected_tensor(model, "input_ids_" + side), expected_tensor(model, "attention_mask_" + side),
          expected_tensor(model, "position_ids_" + side)};
}

// The unpadded sequences of case.json with their prompt lengths.
struct FixtureSequence {
  std::vector<int64_t> ids;
  int64_t prompt_length = 0;
};
inline std::vector<FixtureSequence> fixture_sequences(const std::string& model) {
  Json c = read_json_file(model_fixture(model) / "case.json");
  std::vector<FixtureSequence> out;
  for (const Json& s : c["sequences"]) out.push_back({s["ids"].get<std::vector<int64_t>>(), s["prompt_length"].get<int64_t>()});
  return out;
}

inline at::Tensor ids_tensor(const std::vector<int64_t>& ids) {
  return at::tensor(ids, at::TensorOptions().dtype(at::kLong)).unsqueeze(0);
}

// A config of a tiny model of `family` for unit tests (vocab 50, hidden 32, 2 layers, 4/2 heads x 8).
inline io::ModelConfig tiny_config(const std::string& arch, Json extra = Json::object()) {
  Json j = {{"architectures", {arch}}, {"vocab_size", 50}, {"hidden_size", 32}, {"intermediate_size", 48},
            {"num_hidden_layers", 2}, {"num_attention_heads", 4}, {"num_key_value_heads", 2},
            {"rms_norm_eps", 1e-6}, {"bos_token_id", 1}, {"eos_token_id", 2}};
  for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = it.value();
  return io::parse_model_config(j, "test-config.json");
}

// Fills every weight with normal(0, std) (norm weights 1 + 0.1 normal, Gemma's 0.1 normal), like the
// fixtures' generator.
inline void randomize(CausalLM& m, uint64_t seed, double std = 0.02) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (auto& [name, t] : m.named_parameters()) {
    const bool norm = name.find("norm") != std::string::npos;
    at::Tensor v = norm ? at::normal(0.0, 0.1, t.sizes(), gen) + (m.config().norm_plus_one ? 0.0 : 1.0)
                        : at::normal(0.0, std, t.sizes(), gen);
    t.detach().copy_(v.to(t.options().dtype()));
  }
}

// Max |a - b| over the real slots (mask [B, T] 0/1) of [B, T, V] tensors.
inline double max_abs_diff_at(const at::Tensor& a, const at::Tensor& b, const at::Tensor& mask) {
  at::Tensor m = mask.to(at::kBool);
  return (a.to(at::kDouble).index({m}) - b.to(at::kDouble).index({m})).abs().max().item<double>();
}

}  // namespace prefer::model::test
