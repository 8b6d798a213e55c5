// The scorer against the fixtures' reference log-probs, and against a naive full-logits path written
// independently here (values, gradients and metrics).
#include "model/scorer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "model/causal_lm.h"
#include "model/loader.h"
#include "model_test_util.h"

namespace prefer::model {
namespace {

using test::expected_tensor;
using test::model_fixture;

// Response mask of a fixture batch: the tokens after each sequence's prompt, at their padded slots.
at::Tensor fixture_response_mask(const std::string& name, const std::string& side) {
  auto seqs = test::fixture_sequences(name);
  auto batch = test::fixture_batch(name, side);
  const int64_t T = batch.ids.size(1);
  at::Tensor m = at::zeros({static_cast<int64_t>(seqs.size()), T}, at::kBool);
  for (size_t b = 0; b < seqs.size(); ++b) {
    const int64_t n = static_cast<int64_t>(seqs[b].ids.size());
    const int64_t start = side == "left" ? T - n : 0;
    for (int64_t t = seqs[b].prompt_length; t < n; ++t) m[static_cast<int64_t>(b)][start + t] = true;
  }
  return m;
}

class ScorerFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(ScorerFixture, LogProbSumsMatchTheFixtureForBothPaddings) {
  const std::string name = GetParam();
  CausalLM m = load_model(model_fixture(name));
  at::NoGradGuard no_grad;
  at::Tensor want_sum = expected_tensor(name, "logprob_sum");
  at::Tensor want_mean = expected_tensor(name, "logprob_mean");
  at::Tensor want_tok = expected_tensor(name, "response_token_logprobs");  // unpadded index
  auto seqs = test::fixture_sequences(name);
  for (const std::string side : {"left", "right"}) {
    auto b = test::fixture_batch(name, side);
    at::Tensor resp = fixture_response_mask(name, side);
    SequenceScores s = score(m, b.ids, b.positions, {.key_mask = b.mask}, resp, {.chunk_tokens = 5, .per_token = true});
    const double sum_err = (s.sum.to(at::kDouble) - want_sum).abs().max().item<double>();
    EXPECT_LT(sum_err, 1e-4) << name << " " << side;
    EXPECT_LT((s.sum.to(at::kDouble) / s.count.to(at::kDouble) - want_mean).abs().max().item<double>(), 1e-4);
    for (size_t i = 0; i < seqs.size(); ++i) {
      const int64_t n = static_cast<int64_t>(seqs[i].ids.size()), T = b.ids.size(1);
      EXPECT_EQ(s.count[static_cast<int64_t>(i)].item<int64_t>(), n - seqs[i].prompt_length);
      at::Tensor got = s.token_logps[static_cast<int64_t>(i)].narrow(0, side == "left" ? T - n : 0, n);
      EXPECT_LT((got.to(at::kDouble) - want_tok[static_cast<int64_t>(i)].narrow(0, 0, n)).abs().max().item<double>(), 1e-5);
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", sum_err);
    RecordProperty(name + "_" + side + "_logprob_sum_error", buf);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ScorerFixture, ::testing::Values("llama-tiny", "qwen2-tiny"));

// The naive path: full logits [B, T, V], log_softmax over the vocabulary, shifted gather, masked sum.
struct Naive {
  at::Tensor sum, tokens, entropy, mean_logit;
};
Naive naive_scores(const at::Tensor& hidden, const at::Tensor& w, const at::Tensor& ids, const at::Tensor& mask) {
  at::Tensor logits = at::matmul(hidden, w.t()).to(at::kDouble);          // [B, T, V]
  at::Tensor logp = at::log_softmax(logits, -1).narrow(1, 0, ids.size(1) - 1);  // predicts slots 1..T-1
  at::Tensor tgt = ids.narrow(1, 1, ids.size(1) - 1).unsqueeze(-1);
  at::Tensor tok = logp.gather(2, tgt).squeeze(-1) * mask.narrow(1, 1, ids.size(1) - 1).to(at::kDouble);
  at::Tensor p = logp.exp();
  at::Tensor m = mask.narrow(1, 1, ids.size(1) - 1).to(at::kDouble);
  at::Tensor ent = (-(p * logp).sum(-1) * m).sum(1) / m.sum(1);
  at::Tensor mean = (logits.narrow(1, 0, ids.size(1) - 1).mean(-1) * m).sum(1) / m.sum(1);
  return {tok.sum(1), at::cat({at::zeros({ids.size(0), 1}, at::kDouble), tok}, 1), ent.detach(), mean.detach()};
}

TEST(Scorer, ValuesAndGradientsEqualTheNaiveFullLogitsPath) {
  for (int64_t chunk : {1, 4, 1024}) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
    const int64_t B = 3, T = 9, H = 16, V = 40;
    at::Tensor hidden = at::randn({B, T, H}, gen, at::kDouble).requires_grad_(true);
    at::Tensor w = (at::randn({V, H}, gen, at::kDouble) * 0.3).requires_grad_(true);
    at::Tensor ids = at::randint(V, {B, T}, gen, at::kLong);
    at::Tensor mask = at::zeros({B, T}, at::kBool);
    mask.index_put_({0, at::indexing::Slice(3, 9)}, true);
    mask.index_put_({1, at::indexing::Slice(1, 4)}, true);  // right-padded row
    mask.index_put_({2, 8}, true);                          // one token
    at::Tensor R = at::randn({B}, gen, at::kDouble);        // a non-uniform upstream gradient
    at::Tensor Rt = at::randn({B, T}, gen, at::kDouble);

    SequenceScores s = score(hidden, w, ids, mask, {.chunk_tokens = chunk, .per_token = true, .stats = true});
    ((s.sum * R).sum() + (s.token_logps * Rt).sum()).backward();
    at::Tensor gh = hidden.grad().clone(), gw = w.grad().clone();
    hidden.grad().zero_();
    w.grad().zero_();

    Naive n = naive_scores(hidden, w, ids, mask);
    ((n.sum * R).sum() + (n.tokens * Rt).sum()).backward();
    EXPECT_TRUE(at::allclose(s.sum, n.sum, 1e-12, 1e-12)) << chunk;
    EXPECT_TRUE(at::allclose(s.token_logps, n.tokens, 1e-12, 1e-12)) << chunk;
    EXPECT_TRUE(at::allclose(gh, hidden.grad(), 1e-12, 1e-12)) << chunk;
    EXPECT_TRUE(at::allclose(gw, w.grad(), 1e-12, 1e-12)) << chunk;
    EXPECT_TRUE(at::allclose(s.entropy, n.entropy, 1e-12, 1e-12)) << chunk;
    EXPECT_TRUE(at::allclose(s.mean_logit, n.mean_logit, 1e-12, 1e-12)) << chunk;
    // WPO's log Σ p² at every scored slot, from the full log-softmax: logsumexp(2 log p).
    at::Tensor logp = at::log_softmax(at::matmul(hidden.detach(), w.detach().t()).narrow(1, 0, T - 1), -1);
    at::Tensor want = at::cat({at::zeros({B, 1}, at::kDouble), at::logsumexp(logp * 2, -1)}, 1) * mask.to(at::kDouble);
    EXPECT_TRUE(at::allclose(s.token_log_sum_p_sq, want, 1e-12, 1e-12)) << chunk;
    EXPECT_TRUE(at::equal(s.count, at::tensor({6, 3, 1}, at::kLong)));
    EXPECT_FALSE(s.entropy.requires_grad());
  }
}

// float32 runs through the row kernels (logit_kernels.h): the same values, statistics and gradients as
// the float64 naive path on the same float32 inputs, to float32's precision. V spans two kernel blocks.
TEST(Scorer, Float32RowKernelsFollowTheFloat64NaivePath) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
  const int64_t B = 2, T = 7, H = 16, V = 4099;
  at::Tensor hidden = at::randn({B, T, H}, gen).requires_grad_(true);
  at::Tensor w = (at::randn({V, H}, gen) * 0.5).requires_grad_(true);
  at::Tensor ids = at::randint(V, {B, T}, gen, at::kLong);
  at::Tensor mask = at::zeros({B, T}, at::kBool);
  mask.narrow(1, 2, 5).fill_(true);
  at::Tensor R = at::randn({B}, gen);
  SequenceScores s = score(hidden, w, ids, mask, {.chunk_tokens = 3, .stats = true});
  EXPECT_EQ(s.sum.scalar_type(), at::kFloat);
  (s.sum * R).sum().backward();
  at::Tensor h64 = hidden.detach().to(at::kDouble).requires_grad_(true), w64 = w.detach().to(at::kDouble).requires_grad_(true);
  Naive n = naive_scores(h64, w64, ids, mask);
  (n.sum * R.to(at::kDouble)).sum().backward();
  auto worst = [](const at::Tensor& a, const at::Tensor& b) { return (a.to(at::kDouble) - b).abs().max().item<double>(); };
  EXPECT_LT(worst(s.sum, n.sum), 1e-4);
  EXPECT_LT(worst(s.entropy, n.entropy), 1e-5);
  EXPECT_LT(worst(s.mean_logit, n.mean_logit), 1e-5);
  EXPECT_LT(worst(hidden.grad(), h64.grad()), 1e-5);
  EXPECT_LT(worst(w.grad(), w64.grad()), 1e-5);
}

TEST(Scorer, StridedTargetsScoreAsContiguousOnes) {
  // The float32 row kernels read targets as one contiguous int64 run; a column view (stride 2) and int32
  // ids must give the same log-probs as a contiguous int64 copy.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(4);
  at::Tensor h = at::randn({6, 8}, gen), w = at::randn({37, 8}, gen);
  at::Tensor pairs = at::randint(37, {6, 2}, gen, at::kLong);
  at::Tensor column = pairs.select(1, 1);
  ASSERT_FALSE(column.is_contiguous());
  at::Tensor want = chunked_token_logprobs(h, w, column.contiguous(), 4);
  EXPECT_TRUE(at::equal(chunked_token_logprobs(h, w, column, 4), want));
  EXPECT_TRUE(at::equal(chunked_token_logprobs(h, w, column.to(at::kInt), 4), want));
}

TEST(Scorer, GradientFlowsThroughAWholeModelLikeTheNaivePath) {
  // float64 model; gradient of the score w.r.t. every weight equals the naive path's.
  CausalLM m = load_model(model_fixture("llama-tiny"), {.dtype = at::kDouble});
  m.set_requires_grad(true);
  auto b = test::fixture_batch("llama-tiny", "right");
  at::Tensor resp = fixture_response_mask("llama-tiny", "right");
  SequenceScores s = score(m, b.ids, b.positions, {.key_mask = b.mask}, resp, {.chunk_tokens = 4});
  s.sum.sum().backward();
  std::vector<at::Tensor> chunked;
  for (auto& [name, t] : m.named_parameters()) {
    chunked.push_back(t.grad().clone());
    t.grad().zero_();
  }
  at::Tensor hidden = m.forward(b.ids, b.positions, {.key_mask = b.mask});
  naive_scores(hidden, m.lm_head_weight(), b.ids, resp).sum.sum().backward();
  size_t i = 0;
  for (auto& [name, t] : m.named_parameters()) EXPECT_TRUE(at::allclose(chunked[i++], t.grad(), 1e-10, 1e-12)) << name;
}

TEST(Scorer, FirstSlotCannotBeScored) {
  at::Tensor hidden = at::zeros({1, 3, 4});
  at::Tensor w = at::zeros({5, 4});
  at::Tensor ids = at::zeros({1, 3}, at::kLong);
  at::Tensor mask = at::tensor({1, 1, 0}, at::kLong).view({1, 3});
  EXPECT_ERROR_WITH(score(hidden, w, ids, mask), "first slot", "response_mask");
}

TEST(Scorer, EmptyResponsesScoreZero) {
  at::Tensor hidden = at::randn({2, 3, 4});
  at::Tensor w = at::randn({5, 4});
  at::Tensor ids = at::zeros({2, 3}, at::kLong);
  SequenceScores s = score(hidden, w, ids, at::zeros({2, 3}, at::kBool), {.stats = true});
  EXPECT_TRUE(at::equal(s.sum, at::zeros({2})));
  EXPECT_TRUE(at::equal(s.count, at::zeros({2}, at::kLong)));
}

}  // namespace
}  // namespace prefer::model

namespace prefer::model {
namespace {

// Explicit (source, target, sequence) lists: a prefix-shared row scored against two separate rows.
TEST(Scorer, ExplicitListsScorePrefixSharedRows) {
  CausalLM m = load_model(test::model_fixture("llama-tiny"), {.dtype = at::kDouble});
  // prompt 1 219 249, chosen 159 57, rejected 99 97. Shared row: [1 219 249 159 57 99 97],
  // positions 0 1 2 3 4 3 4; rejected sees the prompt and itself only.
  at::Tensor ids = at::tensor({1, 219, 249, 159, 57, 99, 97}, at::kLong).view({1, 7});
  at::Tensor pos = at::tensor({0, 1, 2, 3, 4, 3, 4}, at::kLong).view({1, 7});
  at::Tensor vis = at::tril(at::ones({7, 7}, at::kBool));
  vis.narrow(0, 5, 2).narrow(1, 3, 2).fill_(false);
  at::Tensor hidden = m.forward(ids, pos, {.visibility = vis.unsqueeze(0)});
  // chosen tokens at slots 3, 4 from slots 2, 3; rejected at 5, 6 from slots 2 (last prompt slot), 5.
  at::Tensor src = at::tensor({2, 3, 2, 5}, at::kLong), tgt = at::tensor({159, 57, 99, 97}, at::kLong);
  at::Tensor seq = at::tensor({0, 0, 1, 1}, at::kLong);
  SequenceScores s = score_tokens(hidden, m.lm_head_weight(), src, tgt, seq, 2, {.per_token = true});
  // The same pair as two ordinary rows.
  at::Tensor rows = at::tensor({1, 219, 249, 159, 57, 1, 219, 249, 99, 97}, at::kLong).view({2, 5});
  at::Tensor rpos = at::arange(5, at::kLong).repeat({2, 1});
  at::Tensor resp = at::zeros({2, 5}, at::kBool);
  resp.narrow(1, 3, 2).fill_(true);
  SequenceScores want = score(m, rows, rpos, {}, resp);
  EXPECT_TRUE(at::allclose(s.sum, want.sum, 1e-12, 1e-12));
  EXPECT_TRUE(at::equal(s.count, at::tensor({2, 2}, at::kLong)));
  EXPECT_EQ(s.token_logps.sizes(), at::IntArrayRef({4}));
}

}  // namespace
}  // namespace prefer::model

namespace prefer::model {
// A frozen head (LoRA, or a reference model scored with grad) folds the head's backward into the forward:
// the gradient w.r.t. the hidden states must still be the naive path's, in float64 (ATen path), float32
// (row kernels, V over two blocks) and bf16 (row kernels; against float64 on the same bf16 inputs).
TEST(Scorer, AFrozenHeadGivesTheNaiveHiddenGradient) {
  struct Case {
    at::ScalarType dtype;
    int64_t V;
    double tol;
  };
  for (const Case& k : {Case{at::kDouble, 40, 1e-12}, Case{at::kFloat, 4099, 1e-5}, Case{at::kBFloat16, 300, 2e-2}}) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
    const int64_t B = 3, T = 8, H = 16;
    at::Tensor hidden = at::randn({B, T, H}, gen, at::kDouble).to(k.dtype).requires_grad_(true);
    at::Tensor w = (at::randn({k.V, H}, gen, at::kDouble) * 0.3).to(k.dtype);  // no gradient: frozen
    at::Tensor ids = at::randint(k.V, {B, T}, gen, at::kLong);
    at::Tensor mask = at::zeros({B, T}, at::kBool);
    mask.narrow(1, 2, 6).fill_(true);
    mask.index_put_({2, at::indexing::Slice(2, 7)}, false);  // one token in row 2
    at::Tensor R = at::randn({B}, gen, at::kDouble);          // a non-uniform upstream gradient
    SequenceScores s = score(hidden, w, ids, mask, {.chunk_tokens = 5, .stats = true});
    (s.sum * R.to(s.sum.scalar_type())).sum().backward();
    EXPECT_EQ(hidden.grad().scalar_type(), k.dtype);
    at::Tensor h64 = hidden.detach().to(at::kDouble).requires_grad_(true);
    Naive n = naive_scores(h64, w.to(at::kDouble), ids, mask);
    (n.sum * R).sum().backward();
    const double scale = h64.grad().abs().max().item<double>();
    EXPECT_LT((hidden.grad().to(at::kDouble) - h64.grad()).abs().max().item<double>(), k.tol * scale) << k.dtype;
    EXPECT_LT((s.sum.to(at::kDouble) - n.sum).abs().max().item<double>(), k.dtype == at::kBFloat16 ? 0.05 : 1e-4) << k.dtype;
    // Scored twice with grad, one output unused: its zero upstream gradient gives no contribution.
    hidden.grad().zero_();
    SequenceScores a = score(hidden, w, ids, mask, {.chunk_tokens = 5});
    SequenceScores b = score(hidden, w, ids, mask, {.chunk_tokens = 5});
    (a.sum * R.to(a.sum.scalar_type())).sum().backward();
    EXPECT_LT((hidden.grad().to(at::kDouble) - h64.grad()).abs().max().item<double>(), k.tol * scale) << k.dtype;
    EXPECT_TRUE(b.sum.requires_grad());
  }
}

namespace {

// bf16 hidden states and LM head: log-softmax in float32, gradients back in bf16, close to float32.
TEST(Scorer, Bfloat16InputsScoreInFloat32) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  at::Tensor hidden32 = at::randn({2, 6, 16}, gen);
  at::Tensor w32 = at::randn({30, 16}, gen) * 0.3;
  at::Tensor ids = at::randint(30, {2, 6}, gen, at::kLong);
  at::Tensor mask = at::zeros({2, 6}, at::kBool);
  mask.narrow(1, 2, 4).fill_(true);
  at::Tensor hidden = hidden32.to(at::kBFloat16).requires_grad_(true);
  at::Tensor w = w32.to(at::kBFloat16).requires_grad_(true);
  SequenceScores s = score(hidden, w, ids, mask, {.chunk_tokens = 3});
  EXPECT_EQ(s.sum.scalar_type(), at::kFloat);
  s.sum.sum().backward();
  EXPECT_EQ(hidden.grad().scalar_type(), at::kBFloat16);
  EXPECT_EQ(w.grad().scalar_type(), at::kBFloat16);
  at::Tensor h64 = hidden.detach().to(at::kDouble).requires_grad_(true), w64 = w.detach().to(at::kDouble).requires_grad_(true);
  Naive n = naive_scores(h64, w64, ids, mask);
  n.sum.sum().backward();
  EXPECT_LT((s.sum.to(at::kDouble) - n.sum).abs().max().item<double>(), 0.05);
  EXPECT_LT((w.grad().to(at::kDouble) - w64.grad()).abs().max().item<double>(), 0.05);
}

}  // namespace
}  // namespace prefer::model
