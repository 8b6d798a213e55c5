// Generation: the fixtures' 12 greedy ids (batched, left-padded, cached and uncached), cached decoding
// equal to the uncached forward, samplers against their definitions, seeds and EOS stops.
#include "model/generation.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include "model/kv_cache.h"
#include "model/loader.h"
#include "model_test_util.h"

namespace prefer::model {
namespace {

using test::model_fixture;

std::vector<std::vector<int64_t>> fixture_prompts(const std::string& name) {
  std::vector<std::vector<int64_t>> out;
  for (auto& s : test::fixture_sequences(name)) out.push_back(s.ids);
  return out;
}

class GreedyFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(GreedyFixture, TwelveGreedyIdsExactCachedAndUncached) {
  const std::string name = GetParam();
  CausalLM m = load_model(model_fixture(name));
  at::Tensor want = test::expected_tensor(name, "greedy_ids");  // [3, 12]
  for (bool cache : {true, false}) {
    auto out = generate(m, fixture_prompts(name), {.max_new_tokens = 12, .eos_token_ids = {2}, .use_cache = cache});
    ASSERT_EQ(out.size(), 3u);
    for (int64_t b = 0; b < 3; ++b) {
      std::vector<int64_t> w(want[b].data_ptr<int64_t>(), want[b].data_ptr<int64_t>() + 12);
      EXPECT_EQ(out[static_cast<size_t>(b)].ids, w) << name << " row " << b << (cache ? " cached" : " uncached");
      EXPECT_FALSE(out[static_cast<size_t>(b)].stopped_on_eos);
    }
  }
  // One prompt at a time gives the same tokens as the batch.
  auto single = generate(m, {fixture_prompts(name)[1]}, {.max_new_tokens = 12});
  std::vector<int64_t> w(want[1].data_ptr<int64_t>(), want[1].data_ptr<int64_t>() + 12);
  EXPECT_EQ(single[0].ids, w);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GreedyFixture, ::testing::Values("llama-tiny", "qwen2-tiny"));

// Feeding a sequence through the cache in pieces gives the hidden states of one uncached forward.
void expect_cache_matches_full(const CausalLM& m, double tol) {
  at::NoGradGuard ng;
  // Two rows, the second left-padded by 3.
  at::Tensor ids = at::tensor({5, 9, 14, 3, 22, 7, 31, 8, 11, 0, 0, 0, 4, 19, 27, 6, 13, 40}, at::kLong).view({2, 9});
  ids[1] = at::tensor({0, 0, 0, 4, 19, 27, 6, 13, 40}, at::kLong);
  at::Tensor mask = at::ones({2, 9}, at::kBool);
  mask[1].narrow(0, 0, 3).fill_(false);
  at::Tensor pos = position_ids_from_mask(mask);
  at::Tensor full = m.forward(ids, pos, {.key_mask = mask});
  KvCache cache(m.config().num_hidden_layers, 4);  // small capacity: the buffers must grow
  std::vector<at::Tensor> parts;
  for (auto [start, len] : std::vector<std::pair<int64_t, int64_t>>{{0, 5}, {5, 1}, {6, 2}, {8, 1}})
    parts.push_back(m.forward(ids.narrow(1, start, len), pos.narrow(1, start, len), {.key_mask = mask.narrow(1, start, len)}, &cache));
  EXPECT_EQ(cache.length(), 9);
  at::Tensor inc = at::cat(parts, 1);
  // Compare real slots (padding-slot outputs are undefined).
  at::Tensor real = mask.unsqueeze(-1).expand_as(full);
  EXPECT_LT((inc - full).masked_select(real).abs().max().item<double>(), tol);
}

TEST(KvCache, CachedDecodingEqualsUncachedForward) {
  expect_cache_matches_full(load_model(model_fixture("llama-tiny")), 1e-5);
  expect_cache_matches_full(load_model(model_fixture("qwen2-tiny"), {.dtype = at::kDouble}), 1e-12);
}

TEST(KvCache, CachedDecodingEqualsUncachedWithSlidingWindow) {
  CausalLM m(test::tiny_config("MistralForCausalLM", {{"sliding_window", 3}}), {.dtype = at::kDouble});
  test::randomize(m, 11, 0.3);
  expect_cache_matches_full(m, 1e-12);
}

TEST(Sampling, TopKKeepsTheKLargest) {
  at::Tensor l = at::tensor({1.0f, 4.0f, 3.0f, 2.0f}).view({1, 4});
  at::Tensor w = warp_logits(l, 1.0, 2, 1.0);
  EXPECT_TRUE(std::isinf(w[0][0].item<float>()));
  EXPECT_TRUE(std::isinf(w[0][3].item<float>()));
  EXPECT_EQ(w[0][1].item<float>(), 4.0f);
  EXPECT_EQ(w[0][2].item<float>(), 3.0f);
}

TEST(Sampling, TopPKeepsTheSmallestSetReachingP) {
  // probabilities 0.5, 0.3, 0.15, 0.05: top_p 0.7 keeps {0.5, 0.3}; top_p 0.85 keeps three.
  at::Tensor l = at::log(at::tensor({0.5f, 0.3f, 0.15f, 0.05f})).view({1, 4});
  at::Tensor w = warp_logits(l, 1.0, 0, 0.7);
  EXPECT_EQ(at::isinf(w).sum().item<int64_t>(), 2);
  EXPECT_TRUE(std::isinf(w[0][2].item<float>()) && std::isinf(w[0][3].item<float>()));
  EXPECT_EQ(at::isinf(warp_logits(l, 1.0, 0, 0.85)).sum().item<int64_t>(), 1);
  // Never removes everything.
  EXPECT_EQ(at::isinf(warp_logits(l, 1.0, 0, 1e-6)).sum().item<int64_t>(), 3);
}

TEST(Sampling, TemperatureDividesLogits) {
  at::Tensor l = at::tensor({1.0f, -2.0f}).view({1, 2});
  EXPECT_TRUE(at::allclose(warp_logits(l, 0.5, 0, 1.0), l * 2));
}

TEST(Sampling, DrawsFollowTheWarpedDistribution) {
  // 4000 draws from softmax([0, ln 3]) = (0.25, 0.75).
  at::Tensor l = at::tensor({0.0f, std::log(3.0f)}).view({1, 2}).expand({4000, 2}).contiguous();
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1);
  at::Tensor t = next_tokens(l, {.do_sample = true, .top_k = 0}, gen);
  EXPECT_NEAR(t.to(at::kDouble).mean().item<double>(), 0.75, 0.03);
}

TEST(Generate, SeedsReproduceAndTopKOneIsGreedy) {
  CausalLM m = load_model(model_fixture("llama-tiny"));
  auto prompts = fixture_prompts("llama-tiny");
  GenerationOptions s{.max_new_tokens = 10, .do_sample = true, .temperature = 1.5, .top_k = 0, .seed = 123};
  auto a = generate(m, prompts, s);
  auto b = generate(m, prompts, s);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].ids, b[i].ids);
  s.seed = 124;
  auto c = generate(m, prompts, s);
  bool differs = false;
  for (size_t i = 0; i < a.size(); ++i) differs |= a[i].ids != c[i].ids;
  EXPECT_TRUE(differs);
  auto greedy = generate(m, prompts, {.max_new_tokens = 10});
  auto k1 = generate(m, prompts, {.max_new_tokens = 10, .do_sample = true, .top_k = 1, .seed = 5});
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(k1[i].ids, greedy[i].ids);
}

TEST(Generate, StopsOnAnyEosIdPerRow) {
  CausalLM m = load_model(model_fixture("llama-tiny"));
  at::Tensor want = test::expected_tensor("llama-tiny", "greedy_ids");
  // Row 0's 3rd greedy token and row 2's 1st become "EOS"; row 1 runs to max_new_tokens unless it meets one.
  const int64_t e0 = want[0][2].item<int64_t>(), e2 = want[2][0].item<int64_t>();
  auto out = generate(m, fixture_prompts("llama-tiny"), {.max_new_tokens = 12, .eos_token_ids = {e0, e2}});
  EXPECT_EQ(out[0].ids.size(), 3u);
  EXPECT_TRUE(out[0].stopped_on_eos);
  EXPECT_EQ(out[0].ids.back(), e0);
  EXPECT_EQ(out[2].ids, std::vector<int64_t>{e2});
  // Row 1 continues with the same tokens as without the stops, up to its own first stop id, if any.
  for (size_t i = 0; i < out[1].ids.size(); ++i) EXPECT_EQ(out[1].ids[i], want[1][static_cast<int64_t>(i)].item<int64_t>());
  EXPECT_EQ(out[1].stopped_on_eos, out[1].ids.size() < 12u);
}

TEST(Generate, RejectsBadOptions) {
  CausalLM m = load_model(model_fixture("qwen2-tiny"));
  EXPECT_ERROR_WITH(generate(m, {{1, 2}}, {.do_sample = true, .temperature = 0}), "temperature");
  EXPECT_ERROR_WITH(generate(m, {{1, 2}}, {.top_p = 0}), "top_p");
  EXPECT_ERROR_WITH(generate(m, {{}}, {}), "empty");
}

}  // namespace
}  // namespace prefer::model
