// The reward model against the llama-tiny-rm fixture: rewards from an independent float64 reference
// (final normed hidden state at the last real token, dotted with score.weight), for unpadded sequences
// and for left- and right-padded batches, both as the fixture pads them and as prefer's batches do.
#include "train/reward_recipe.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "data/batch.h"
#include "model/loader.h"
#include "model/model_test_util.h"
#include "model/scalar_head.h"
#include "test_util.h"

namespace prefer::train {
namespace {

std::vector<double> fixture_rewards() {
  return read_json_file(test::fixture("models/llama-tiny-rm/case.json"))["rewards"].get<std::vector<double>>();
}

TEST(RewardModel, ScoresEqualTheFixtureUnpaddedAndPadded) {
  model::CausalLM rm = model::load_model(test::fixture("models/llama-tiny-rm"));
  ASSERT_EQ(rm.config().head, io::HeadKind::SequenceClassification);
  at::NoGradGuard ng;
  const std::vector<double> want = fixture_rewards();
  auto seqs = model::test::fixture_sequences("llama-tiny");
  for (size_t i = 0; i < seqs.size(); ++i) {
    at::Tensor ids = model::test::ids_tensor(seqs[i].ids);
    at::Tensor pos = at::arange(ids.size(1), at::kLong).unsqueeze(0);
    at::Tensor r = model::scalar_head(rm, rm.forward(ids, pos, {}), at::ones_like(ids, at::kBool));
    EXPECT_NEAR(r.item<double>(), want[i], 1e-5) << i;
  }
  for (const std::string side : {"left", "right"}) {
    auto b = model::test::fixture_batch("llama-tiny", side);
    at::Tensor r = model::scalar_head(rm, rm.forward(b.ids, b.positions, {.key_mask = b.mask}), b.mask);
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(r[static_cast<int64_t>(i)][0].item<double>(), want[i], 1e-5) << side << i;
  }
  // prefer's own batches of the same sequences (prompt = the first token), both padding sides.
  data::TokenizedDataset d;
  for (const auto& s : seqs) {
    data::TokenizedExample ex;
    ex.prompt_ids = {static_cast<int32_t>(s.ids[0])};
    for (size_t t = 1; t < s.ids.size(); ++t) ex.chosen.completion_ids.push_back(static_cast<int32_t>(s.ids[t]));
    d.add(ex);
  }
  for (auto side : {data::PadSide::Left, data::PadSide::Right}) {
    data::Batch b = data::make_batch(d, {0, 1, 2}, {.pad_side = side, .pad_id = 0, .tokens_multiple_of = 64});
    at::Tensor r = row_rewards(rm, b);
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(r[static_cast<int64_t>(i)].item<double>(), want[i], 1e-5);
  }
}

TEST(RewardModel, StepLossIsTheBradleyTerryMeanOfTheFixtureRewards) {
  // Pairs (seq 0 over seq 1) and (seq 2 over seq 1): the loss sum is Σ −log σ(r_c − r_r), from the
  // fixture's rewards, and the weight is 2 pairs.
  model::CausalLM rm = model::load_model(test::fixture("models/llama-tiny-rm"));
  auto seqs = model::test::fixture_sequences("llama-tiny");
  auto tail = [](const model::test::FixtureSequence& s) { return std::vector<int32_t>(s.ids.begin() + 1, s.ids.end()); };
  data::TokenizedDataset d;
  for (int c : {0, 2}) {
    data::TokenizedExample ex;
    ex.paired = true;
    ex.prompt_ids = {1};
    ex.chosen.completion_ids = tail(seqs[static_cast<size_t>(c)]);
    ex.rejected.completion_ids = tail(seqs[1]);
    d.add(ex);
  }
  RewardRecipe recipe(rm, {});
  MicroStep s = recipe.step(d, {0, 1}, false);
  const auto w = fixture_rewards();
  auto bt = [](double x) { return std::log1p(std::exp(-x)); };
  EXPECT_NEAR(s.loss_sum.item<double>(), bt(w[0] - w[1]) + bt(w[2] - w[1]), 1e-5);
  EXPECT_EQ(s.weight, 2.0);
  EXPECT_NEAR(s.metrics.at("accuracy").sum.item<double>() / s.metrics.at("accuracy").weight, (w[0] > w[1]) * 0.5 + (w[2] > w[1]) * 0.5, 1e-12);
}

}  // namespace
}  // namespace prefer::train
