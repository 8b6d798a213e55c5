// Parity with Hugging Face on the fixtures (tests/fixtures/models/README.md): logits at every real slot
// of the left- and right-padded batches within 1e-5, left = right = unpadded, and a float64
// finite-difference check of the gradient through a whole model.
#include "model/causal_lm.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "model/loader.h"
#include "model_test_util.h"
#include "reference_forward.h"

namespace prefer::model {
namespace {

using test::expected_tensor;
using test::model_fixture;

class FixtureParity : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureParity, LogitsMatchAtEveryRealSlotOfBothPaddings) {
  const std::string name = GetParam();
  CausalLM m = load_model(model_fixture(name));
  at::NoGradGuard no_grad;
  for (const std::string side : {"left", "right"}) {
    auto b = test::fixture_batch(name, side);
    at::Tensor logits = m.logits(m.forward(b.ids, b.positions, {.key_mask = b.mask}));
    at::Tensor want = expected_tensor(name, "logits_" + side);
    ASSERT_EQ(logits.sizes(), want.sizes());
    const double err = test::max_abs_diff_at(logits, want, b.mask);
    EXPECT_LT(err, 1e-5) << name << " " << side;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", err);
    RecordProperty(name + "_" + side + "_max_logit_error", buf);
  }
}

TEST_P(FixtureParity, LeftEqualsRightEqualsUnpadded) {
  const std::string name = GetParam();
  CausalLM m = load_model(model_fixture(name));
  at::NoGradGuard no_grad;
  auto l = test::fixture_batch(name, "left");
  auto r = test::fixture_batch(name, "right");
  at::Tensor hl = m.forward(l.ids, l.positions, {.key_mask = l.mask});
  at::Tensor hr = m.forward(r.ids, r.positions, {.key_mask = r.mask});
  auto seqs = test::fixture_sequences(name);
  for (size_t b = 0; b < seqs.size(); ++b) {
    const int64_t n = static_cast<int64_t>(seqs[b].ids.size());
    at::Tensor ids = test::ids_tensor(seqs[b].ids);
    at::Tensor h = m.forward(ids, at::arange(n, at::kLong).unsqueeze(0), {})[0];  // [n, H]
    const int64_t T = l.ids.size(1);
    at::Tensor left_rows = hl[static_cast<int64_t>(b)].narrow(0, T - n, n);
    at::Tensor right_rows = hr[static_cast<int64_t>(b)].narrow(0, 0, n);
    EXPECT_LT((left_rows - h).abs().max().item<double>(), 1e-5);
    EXPECT_LT((right_rows - h).abs().max().item<double>(), 1e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureParity, ::testing::Values("llama-tiny", "qwen2-tiny"));

TEST(CausalLM, PositionIdsFromMaskFollowHFGenerateRule) {
  at::Tensor mask = at::tensor({0, 0, 1, 1, 1, 1, 1, 0}, at::kLong).view({2, 4});
  at::Tensor want = at::tensor({1, 1, 0, 1, 0, 1, 2, 1}, at::kLong).view({2, 4});
  EXPECT_TRUE(at::equal(position_ids_from_mask(mask), want));
  // And the fixtures' batches use the same rule.
  for (const std::string side : {"left", "right"}) {
    auto b = test::fixture_batch("llama-tiny", side);
    EXPECT_TRUE(at::equal(position_ids_from_mask(b.mask), b.positions)) << side;
  }
}

TEST(CausalLM, NamedParametersAreTheCheckpointNames) {
  CausalLM m = load_model(model_fixture("qwen2-tiny"));
  auto params = m.named_parameters();
  // qwen2-tiny: embed + 2 layers x 12 (2 norms, q/k/v weight+bias, o, gate, up, down) + norm; tied: no lm_head.
  EXPECT_EQ(params.size(), 1u + 2u * 12u + 1u);
  EXPECT_EQ(params.front().first, "model.embed_tokens.weight");
  EXPECT_EQ(params.back().first, "model.norm.weight");
  EXPECT_TRUE(m.lm_head_weight().is_same(m.slot(Slot::Embed)));
}

TEST(CausalLM, RejectsTokenIdsOutsideTheVocabulary) {
  CausalLM m(test::tiny_config("LlamaForCausalLM"));
  test::randomize(m, 1);
  at::Tensor ids = at::tensor({1, 50}, at::kLong).view({1, 2});
  EXPECT_ERROR_WITH(m.forward(ids, at::arange(2, at::kLong).view({1, 2}), {}), "token id 50", "vocab_size 50");
}

// d(sum(logits * R))/d(w) by autograd equals central differences, in float64, for weights of every kind.
TEST(CausalLM, GradientMatchesFiniteDifferencesInFloat64) {
  CausalLM m = load_model(model_fixture("qwen2-tiny"), {.dtype = at::kDouble});
  m.set_requires_grad(true);
  auto b = test::fixture_batch("qwen2-tiny", "left");
  at::Tensor R = at::randn({3, 16, 320}, at::TensorOptions().dtype(at::kDouble));
  at::Tensor maskf = b.mask.to(at::kDouble).unsqueeze(-1);
  auto objective = [&] { return (m.logits(m.forward(b.ids, b.positions, {.key_mask = b.mask})) * R * maskf).sum(); };
  objective().backward();
  const double eps = 1e-6;
  int checked = 0;
  for (const char* name : {"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
                           "model.layers.0.self_attn.k_proj.bias", "model.layers.1.self_attn.v_proj.weight",
                           "model.layers.1.input_layernorm.weight", "model.layers.0.mlp.down_proj.weight",
                           "model.norm.weight"}) {
    at::Tensor w;
    for (auto& [n, t] : m.named_parameters())
      if (n == name) w = t;
    ASSERT_TRUE(w.defined()) << name;
    at::Tensor flat = w.detach().view(-1);
    at::Tensor grad = w.grad().view(-1);
    for (int64_t i : {int64_t{0}, flat.numel() / 3, flat.numel() - 1}) {
      at::NoGradGuard ng;
      const double orig = flat[i].item<double>();
      flat[i] = orig + eps;
      const double up = objective().item<double>();
      flat[i] = orig - eps;
      const double down = objective().item<double>();
      flat[i] = orig;
      const double fd = (up - down) / (2 * eps);
      const double g = grad[i].item<double>();
      EXPECT_NEAR(g, fd, 1e-6 * std::max(1.0, std::abs(fd))) << name << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_EQ(checked, 21);
}


// ---- every architecture feature against the naive reference (reference_forward.h) -------------------

struct ArchCase {
  std::string label;
  std::string arch;
  Json extra;
};

void PrintTo(const ArchCase& c, std::ostream* os) { *os << c.label; }

class Architectures : public ::testing::TestWithParam<ArchCase> {};

test::Weights weights_of(const CausalLM& m) {
  test::Weights w;
  for (auto& [name, t] : m.named_parameters()) w[name] = t;
  return w;
}

// Two sequences (lengths 7 and 4) as a left- or right-padded batch.
struct Padded {
  at::Tensor ids, mask, positions;
};
Padded pad(const std::vector<std::vector<int64_t>>& seqs, bool left) {
  int64_t T = 0;
  for (auto& s : seqs) T = std::max<int64_t>(T, static_cast<int64_t>(s.size()));
  const int64_t B = static_cast<int64_t>(seqs.size());
  at::Tensor ids = at::zeros({B, T}, at::kLong), mask = at::zeros({B, T}, at::kLong);
  for (int64_t b = 0; b < B; ++b) {
    const auto& s = seqs[static_cast<size_t>(b)];
    const int64_t n = static_cast<int64_t>(s.size()), off = left ? T - n : 0;
    for (int64_t t = 0; t < n; ++t) {
      ids[b][off + t] = s[static_cast<size_t>(t)];
      mask[b][off + t] = 1;
    }
  }
  return {ids, mask, position_ids_from_mask(mask)};
}

TEST_P(Architectures, PaddedBatchesMatchTheNaiveForward) {
  const ArchCase& tc = GetParam();
  io::ModelConfig cfg = test::tiny_config(tc.arch, tc.extra);
  CausalLM m(cfg, {.dtype = at::kDouble});
  test::randomize(m, 42, 0.3);
  const std::vector<std::vector<int64_t>> seqs = {{1, 7, 30, 12, 44, 3, 9}, {1, 22, 5, 49}};
  std::vector<at::Tensor> want;
  for (auto& s : seqs) want.push_back(test::reference_logits(cfg, weights_of(m), s));
  at::NoGradGuard no_grad;
  for (bool left : {true, false}) {
    Padded b = pad(seqs, left);
    at::Tensor logits = m.logits(m.forward(b.ids, b.positions, {.key_mask = b.mask}));
    for (size_t i = 0; i < seqs.size(); ++i) {
      const int64_t n = static_cast<int64_t>(seqs[i].size()), T = b.ids.size(1);
      at::Tensor got = logits[static_cast<int64_t>(i)].narrow(0, left ? T - n : 0, n);
      EXPECT_LT((got - want[i]).abs().max().item<double>(), 1e-6) << tc.label << (left ? " left" : " right") << " seq " << i;
    }
  }
  // Float32 compute stays within the fixtures' float32 tolerance.
  m.to(at::kFloat);
  Padded b = pad(seqs, true);
  at::Tensor logits = m.logits(m.forward(b.ids, b.positions, {.key_mask = b.mask}));
  at::Tensor got = logits[0].to(at::kDouble);
  EXPECT_LT((got - want[0]).abs().max().item<double>(), 1e-4 * std::max(1.0, want[0].abs().max().item<double>()));
}

INSTANTIATE_TEST_SUITE_P(
    Features, Architectures,
    ::testing::Values(
        ArchCase{"llama_plain", "LlamaForCausalLM", Json::object()},
        ArchCase{"llama_biases_llama3_rope", "LlamaForCausalLM",
                 {{"attention_bias", true}, {"mlp_bias", true},
                  {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                                    {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}}}}},
        ArchCase{"llama_linear_rope", "LlamaForCausalLM", {{"rope_scaling", {{"type", "linear"}, {"factor", 2.5}}}}},
        ArchCase{"mistral_window3", "MistralForCausalLM", {{"sliding_window", 3}}},
        ArchCase{"mistral_no_window", "MistralForCausalLM", {{"sliding_window", nullptr}}},
        ArchCase{"qwen2_window_from_layer1", "Qwen2ForCausalLM",
                 {{"use_sliding_window", true}, {"sliding_window", 2}, {"max_window_layers", 1}, {"tie_word_embeddings", true}}},
        ArchCase{"qwen2_window_off", "Qwen2ForCausalLM", {{"use_sliding_window", false}, {"sliding_window", 2}}},
        ArchCase{"qwen3_head_dim16", "Qwen3ForCausalLM", {{"head_dim", 16}, {"tie_word_embeddings", true}}},
        ArchCase{"gemma_head_dim12", "GemmaForCausalLM", {{"head_dim", 12}, {"hidden_act", "gelu_pytorch_tanh"},
                                                          {"hidden_activation", "gelu_pytorch_tanh"}}},
        ArchCase{"gemma_single_kv_head", "GemmaForCausalLM", {{"num_key_value_heads", 1}}}),
    [](const ::testing::TestParamInfo<ArchCase>& i) { return i.param.label; });

TEST(Architectures, WindowsComeFromTheConfig) {
  EXPECT_EQ(CausalLM(test::tiny_config("MistralForCausalLM", {{"sliding_window", 3}})).layers()[1].window, 3);
  CausalLM q(test::tiny_config("Qwen2ForCausalLM", {{"use_sliding_window", true}, {"sliding_window", 2}, {"max_window_layers", 1}}));
  EXPECT_EQ(q.layers()[0].window, 0);
  EXPECT_EQ(q.layers()[1].window, 2);
  EXPECT_EQ(CausalLM(test::tiny_config("Qwen2ForCausalLM", {{"sliding_window", 2}})).layers()[1].window, 0);
}

}  // namespace
}  // namespace prefer::model
