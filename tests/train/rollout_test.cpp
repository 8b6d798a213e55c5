// The rollout tensors of online RL, checked against independent computations: log-probs against a full
// log-softmax of the model's logits, values and scores against each row computed alone without padding,
// the sampler's own log-probs against a fresh forward, and TRL's "first pad" read position.
#include "train/rollout.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "model/causal_lm.h"
#include "model/loader.h"
#include "model/scalar_head.h"
#include "test_util.h"

namespace prefer::train {
namespace {

model::CausalLM tiny(const std::string& name = "llama-tiny") { return model::load_model(test::fixture("models/" + name)); }

std::vector<int64_t> row_ids(const at::Tensor& t, int64_t b) {
  at::Tensor r = t[b].contiguous();
  return std::vector<int64_t>(r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel());
}

// Rows of different prompt and response lengths: left padding before the prompts, right padding after.
Rollout mixed_rollout(int64_t pad = 0) {
  return make_rollout({{1, 40, 41, 42, 43}, {1, 50}, {1, 60, 61}}, {{70, 71, 4}, {80}, {90, 91, 92, 93, 94}}, pad, {4});
}

TEST(Rollout, LayoutPadsPromptsLeftAndResponsesRight) {
  Rollout r = mixed_rollout();
  EXPECT_EQ(r.context_length, 5);
  EXPECT_EQ(r.response_slots(), 5);
  EXPECT_EQ(row_ids(r.ids, 1), (std::vector<int64_t>{0, 0, 0, 1, 50, 80, 0, 0, 0, 0}));
  EXPECT_EQ(row_ids(r.mask.to(at::kLong), 1), (std::vector<int64_t>{0, 0, 0, 1, 1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(row_ids(r.positions, 1).at(3), 0);  // positions count from the first real token
  EXPECT_EQ(row_ids(r.positions, 1).at(5), 2);
  EXPECT_EQ(row_ids(r.response_mask.to(at::kLong), 0), (std::vector<int64_t>{1, 1, 1, 0, 0}));
  EXPECT_TRUE(r.contains_eos[0].item<bool>());
  EXPECT_FALSE(r.contains_eos[2].item<bool>());
  Rollout s = r.select({2, 0});
  EXPECT_EQ(s.responses[0], (std::vector<int64_t>{90, 91, 92, 93, 94}));
  EXPECT_TRUE(at::equal(s.ids[1], r.ids[0]));
  EXPECT_THROW(make_rollout({{1}}, {{}}, 0, {}), Error);
}

TEST(Rollout, LogprobsEqualTheTemperedSoftmaxOfTheModelsLogits) {
  model::CausalLM m = tiny();
  Rollout r = mixed_rollout();
  at::NoGradGuard ng;
  at::Tensor h = rollout_hidden(m, r);
  at::Tensor entropy;
  at::Tensor lp = response_logprobs(m, h, r, 0.7, &entropy);
  ASSERT_EQ(lp.sizes(), (at::IntArrayRef{3, 5}));
  for (int64_t b = 0; b < 3; ++b) {
    // Row alone, no padding: prompt + response.
    std::vector<int64_t> seq = r.prompts[b];
    seq.insert(seq.end(), r.responses[b].begin(), r.responses[b].end());
    const int64_t n = static_cast<int64_t>(seq.size()), p = static_cast<int64_t>(r.prompts[b].size());
    at::Tensor ids = at::tensor(seq, at::kLong).unsqueeze(0);
    at::Tensor hid = m.forward(ids, at::arange(n, at::kLong).unsqueeze(0), {});
    at::Tensor logp = (m.logits(hid)[0].to(at::kDouble) / (0.7 + 1e-7)).log_softmax(-1);
    double ent = 0;
    for (int64_t t = 0; t < 5; ++t) {
      if (t >= static_cast<int64_t>(r.responses[b].size())) {
        EXPECT_EQ(lp[b][t].item<float>(), 0.0f);
        continue;
      }
      const double want = logp[p + t - 1][seq[p + t]].item<double>();
      EXPECT_NEAR(lp[b][t].item<double>(), want, 2e-5) << b << "," << t;
      ent += -(logp[p + t - 1].exp() * logp[p + t - 1]).sum().item<double>();
    }
    EXPECT_NEAR(entropy[b].item<double>(), ent / static_cast<double>(r.responses[b].size()), 1e-4);
  }
}

TEST(Rollout, ValuesAndScoresAreReadAtTheRightSlotsUnderLeftAndRightPadding) {
  model::CausalLM rm = tiny("llama-tiny-rm");
  Rollout r = mixed_rollout();
  at::NoGradGuard ng;
  at::Tensor h = rollout_hidden(rm, r);
  const at::Tensor head = rm.slot(model::Slot::Score);
  at::Tensor v = response_values(h, head, r);
  at::Tensor s = read_scores(h, head, r, ScoreRead::kLastToken, 0);
  for (int64_t b = 0; b < 3; ++b) {
    std::vector<int64_t> seq = r.prompts[b];
    seq.insert(seq.end(), r.responses[b].begin(), r.responses[b].end());
    const int64_t n = static_cast<int64_t>(seq.size()), p = static_cast<int64_t>(r.prompts[b].size());
    at::Tensor hid = rm.forward(at::tensor(seq, at::kLong).unsqueeze(0), at::arange(n, at::kLong).unsqueeze(0), {});
    at::Tensor all = model::scalar_head_all(rm, hid)[0].squeeze(-1);  // [n]
    // The reward model alone reads the last token: that is what the batched rollout must give.
    EXPECT_NEAR(s[b].item<double>(), model::scalar_head(rm, hid, at::ones({1, n}, at::kBool))[0][0].item<double>(), 1e-5);
    EXPECT_NEAR(s[b].item<double>(), all[n - 1].item<double>(), 1e-5);
    for (int64_t t = 0; t < static_cast<int64_t>(r.responses[b].size()); ++t)
      EXPECT_NEAR(v[b][t].item<double>(), all[p + t - 1].item<double>(), 1e-5) << "value before response token " << t;
    for (int64_t t = static_cast<int64_t>(r.responses[b].size()); t < 5; ++t) EXPECT_EQ(v[b][t].item<float>(), 0.0f);
  }
}

TEST(Rollout, FirstPadReadsWhereTrlReads) {
  // pad == EOS (4): TRL reads the score at the first pad of the response minus one, the token before EOS.
  Rollout r = mixed_rollout(/*pad=*/4);
  at::Tensor first = score_slots(r, ScoreRead::kFirstPad, 4);
  at::Tensor last = score_slots(r, ScoreRead::kLastToken, 4);
  EXPECT_EQ(last[0].item<int64_t>(), 5 + 2);   // the EOS itself
  EXPECT_EQ(first[0].item<int64_t>(), 5 + 1);  // the token before it
  EXPECT_EQ(first[1].item<int64_t>(), 5 + 0);  // padding after a 1-token response
  EXPECT_EQ(first[2].item<int64_t>(), 5 + 4);  // no pad at all: the last slot
  // With a pad token that is not EOS both reads agree.
  Rollout q = mixed_rollout(0);
  EXPECT_TRUE(at::equal(score_slots(q, ScoreRead::kFirstPad, 0), score_slots(q, ScoreRead::kLastToken, 0)));
}

TEST(Rollout, SampledLogprobsEqualAFreshForwardAndSeedsRepeat) {
  model::CausalLM m = tiny();
  RolloutOptions o{.response_length = 6, .temperature = 0.9, .eos_token_ids = {4}, .stop_token_id = 7, .pad_token_id = 0,
                   .forward_batch_size = 2, .seed = 3};
  std::vector<std::vector<int64_t>> prompts = {{1, 40, 41}, {1, 50}, {1, 60, 61, 62}};
  Rollout r = sample_rollout(m, prompts, o);
  Rollout again = sample_rollout(m, prompts, o);
  EXPECT_EQ(r.responses, again.responses);
  o.seed = 4;
  EXPECT_NE(sample_rollout(m, prompts, o).responses, r.responses);
  for (const auto& q : r.responses) {
    EXPECT_GE(q.size(), 1u);
    EXPECT_LE(q.size(), 6u);
    for (size_t t = 0; t + 1 < q.size(); ++t) EXPECT_TRUE(q[t] != 4 && q[t] != 7) << "a response goes on after its stop token";
  }
  at::NoGradGuard ng;
  at::Tensor fresh = response_logprobs(m, rollout_hidden(m, r), r, 0.9);
  EXPECT_TRUE(at::allclose(r.sample_logprobs, fresh, 1e-4, 1e-4)) << (r.sample_logprobs - fresh).abs().max();
}

TEST(Rollout, EosEndsAResponseAndIsCounted) {
  model::CausalLM m = tiny();
  std::vector<std::vector<int64_t>> prompts(8, std::vector<int64_t>{1, 40});
  // At temperature 50 every token is near uniform; with half the vocabulary as EOS ids most rows end early.
  std::vector<int64_t> half;
  for (int64_t i = 0; i < 160; ++i) half.push_back(i);
  RolloutOptions o{.response_length = 12, .temperature = 50.0, .eos_token_ids = half, .pad_token_id = 0, .forward_batch_size = 8, .seed = 1};
  Rollout r = sample_rollout(m, prompts, o);
  int64_t ended = 0;
  for (int64_t b = 0; b < r.rows(); ++b) {
    const auto& q = r.responses[b];
    const bool stops = q.back() < 160;
    ended += stops;
    EXPECT_EQ(r.contains_eos[b].item<bool>(), stops);
    if (!stops) {
      EXPECT_EQ(q.size(), 12u);
    }
  }
  EXPECT_GT(ended, 4);
}

}  // namespace
}  // namespace prefer::train
