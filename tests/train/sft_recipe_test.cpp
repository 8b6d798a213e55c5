// SFT against independent numbers: the step-1 loss (learning rate 0) equals the mean token NLL of the
// fixtures' float64 reference, for completion-only and all-token losses; packed rows give the same
// per-token log-probs as one example per row.
#include "train/sft_recipe.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "data/packing.h"
#include "data/tokenize.h"
#include "text/chat_template.h"
#include "model/loader.h"
#include "model/model_test_util.h"
#include "test_util.h"
#include "train/batch_logps.h"
#include "train/trainer.h"

namespace prefer::train {
namespace {

data::TokenizedDataset fixture_examples(const std::string& name) {
  data::TokenizedDataset d;
  for (const auto& s : model::test::fixture_sequences(name)) {
    data::TokenizedExample ex;
    for (int64_t t = 0; t < static_cast<int64_t>(s.ids.size()); ++t)
      (t < s.prompt_length ? ex.prompt_ids : ex.chosen.completion_ids).push_back(static_cast<int32_t>(s.ids[static_cast<size_t>(t)]));
    d.add(ex);
  }
  return d;
}

// The logged loss of one step at learning rate 0 over the whole fixture (one micro-batch of 3, or 3
// micro-batches of 1: the token mean of the step either way).
double first_step_loss(const std::string& name, bool completion_only, int64_t bs, int64_t ga) {
  model::CausalLM m = model::load_model(model::test::model_fixture(name));
  m.set_requires_grad(true);
  SftRecipe recipe(m, {.completion_only_loss = completion_only});
  TrainingTask task;
  recipe.install(task);
  task.trainable = [&m] {
    std::vector<NamedParam> p;
    for (auto& [n, t] : m.named_parameters()) p.push_back({n, t});
    return p;
  };
  task.save_checkpoint = task.load_checkpoint = task.save_final = [](const std::filesystem::path&) {};
  test::TempDir tmp;
  TrainerArgs a;
  a.output_dir = tmp.path();
  a.max_steps = 1;
  a.learning_rate = 0;
  a.per_device_train_batch_size = bs;
  a.gradient_accumulation_steps = ga;
  a.show_progress = false;
  data::TokenizedDataset d = fixture_examples(name);
  return Trainer(a, task, d).train().log[0]["loss"].get<double>();
}

class SftFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(SftFixture, CompletionOnlyLossIsTheReferenceMeanNll) {
  const std::string name = GetParam();
  // −Σ response log-probs / Σ response tokens, from the float64 reference.
  at::Tensor tok = model::test::expected_tensor(name, "response_token_logprobs");
  double n = 0;
  for (const auto& s : model::test::fixture_sequences(name)) n += static_cast<double>(s.ids.size() - static_cast<size_t>(s.prompt_length));
  const double want = -tok.sum().item<double>() / n;
  EXPECT_NEAR(first_step_loss(name, true, 3, 1), want, 1e-5);
  EXPECT_NEAR(first_step_loss(name, true, 1, 3), want, 1e-5);
}

TEST_P(SftFixture, AllTokenLossIsTheReferenceMeanNll) {
  const std::string name = GetParam();
  // Every token after the first, from the fixture's logits (float64 log-softmax of the stored values).
  auto seqs = model::test::fixture_sequences(name);
  auto b = model::test::fixture_batch(name, "right");
  at::Tensor logp = at::log_softmax(model::test::expected_tensor(name, "logits_right").to(at::kDouble), -1);
  double sum = 0, n = 0;
  for (size_t i = 0; i < seqs.size(); ++i)
    for (size_t t = 1; t < seqs[i].ids.size(); ++t, ++n)
      sum -= logp[static_cast<int64_t>(i)][static_cast<int64_t>(t) - 1][seqs[i].ids[t]].item<double>();
  EXPECT_NEAR(first_step_loss(name, false, 3, 1), sum / n, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SftFixture, ::testing::Values("llama-tiny", "qwen2-tiny"));

TEST(SftPacking, PackedRowsGiveTheSameTokenLogProbsAsOneExamplePerRow) {
  model::CausalLM m = model::load_model(model::test::model_fixture("llama-tiny"));
  data::TokenizedDataset d = fixture_examples("llama-tiny");
  data::TokenizedExample extra;
  extra.prompt_ids = {1, 40, 41};
  extra.chosen.completion_ids = {42, 43, 44, 45, 46, 47, 48};
  d.add(extra);
  at::NoGradGuard ng;
  for (bool score_prompt : {false, true}) {
    data::Batch one = data::make_sft_batch(d, {{0}, {1}, {2}, {3}}, {}, score_prompt);
    data::Batch packed = data::make_sft_batch(d, {{0, 3}, {1, 2}}, {.tokens_multiple_of = 64}, score_prompt);
    ASSERT_TRUE(packed.layout.visibility.defined());
    auto a = batch_logps(m, one, 1024), b = batch_logps(m, packed, 1024);
    // Score lists run example by example, token by token: reorder the packed one to examples 0,1,2,3.
    std::vector<std::vector<double>> per_a(4), per_b(4);
    const std::vector<size_t> order_b = {0, 3, 1, 2};
    for (int64_t k = 0; k < a.token_logps.size(0); ++k)
      per_a[static_cast<size_t>(one.score_sequence[k].item<int64_t>())].push_back(a.token_logps[k].item<double>());
    for (int64_t k = 0; k < b.token_logps.size(0); ++k)
      per_b[order_b[static_cast<size_t>(packed.score_sequence[k].item<int64_t>())]].push_back(b.token_logps[k].item<double>());
    for (size_t e = 0; e < 4; ++e) {
      ASSERT_EQ(per_a[e].size(), per_b[e].size()) << e;
      ASSERT_EQ(static_cast<int64_t>(per_a[e].size()), data::sft_scored_tokens(d, e, score_prompt));
      for (size_t t = 0; t < per_a[e].size(); ++t) EXPECT_NEAR(per_a[e][t], per_b[e][t], 2e-6) << e << " " << t;
    }
  }
}

// padding_free without packing: each micro-batch's examples go into rows one after another (in the
// micro-batch's order), with the loss of one padded row per example.
TEST(SftPacking, PaddingFreeMicroBatchesGiveThePaddedLoss) {
  model::CausalLM m = model::load_model(model::test::model_fixture("llama-tiny"));
  data::TokenizedDataset d = fixture_examples("llama-tiny");
  at::NoGradGuard ng;
  SftRecipe padded(m, {});
  SftRecipe free(m, {.batch = {.padding_free = true}});
  const std::vector<size_t> ex = {2, 0, 1};
  EXPECT_EQ(padded.rows(d, ex).size(), 3u);
  ASSERT_EQ(free.rows(d, ex), (std::vector<std::vector<size_t>>{{2, 0, 1}}));
  MicroStep a = padded.step(d, ex, false), b = free.step(d, ex, false);
  EXPECT_EQ(a.weight, b.weight);
  EXPECT_NEAR(a.loss_sum.item<double>(), b.loss_sum.item<double>(), 1e-5);
  EXPECT_EQ(a.tokens, b.tokens);
  // A cap below the longest example is raised to it; no two of these examples fit such a row.
  SftRecipe capped(m, {.batch = {.padding_free = true, .padding_free_tokens = 1}});
  EXPECT_EQ(capped.rows(d, ex).size(), 3u);
}

TEST(SftPacking, PaddingFreeRowsAreEvenAndKeepIndexOrder) {
  // 45 tokens under a cap of 40 need 2 rows: 27 + 18 (rows padded to 27), not 36 + 9 (padded to 36).
  EXPECT_EQ(data::padding_free_rows({9, 9, 9, 9, 9}, 40), (std::vector<std::vector<size_t>>{{0, 1, 2}, {3, 4}}));
  // 8 pairs of 620 under 4,096: 4 a row (best-fit decreasing at the cap would give 6 + 2, padded to 3,720).
  EXPECT_EQ(data::padding_free_rows(std::vector<int64_t>(8, 620), 4096),
            (std::vector<std::vector<size_t>>{{0, 1, 2, 3}, {4, 5, 6, 7}}));
  // Everything in one row when it fits, in index order.
  EXPECT_EQ(data::padding_free_rows({4, 7, 1, 5, 3}, 64), (std::vector<std::vector<size_t>>{{0, 1, 2, 3, 4}}));
  // A cap below the longest item is raised to it (7): 3 rows {7}, {5, 1}, {4, 3}, listed by index.
  EXPECT_EQ(data::padding_free_rows({4, 7, 1, 5, 3}, 2), (std::vector<std::vector<size_t>>{{0, 4}, {1}, {2, 3}}));
  EXPECT_TRUE(data::padding_free_rows({}, 8).empty());
}

TEST(SftPacking, BestFitDecreasingFillsTheTightestBin) {
  // 7, 5, 4, 3, 1 into rows of 8: 7 opens a row, 5 opens another, 4 opens a third, 3 fits the 5's row
  // exactly, 1 fits the 7's row exactly.
  auto bins = data::pack_bfd({4, 7, 1, 5, 3}, 8);
  ASSERT_EQ(bins.size(), 3u);
  EXPECT_EQ(bins[0], (std::vector<size_t>{1, 2}));
  EXPECT_EQ(bins[1], (std::vector<size_t>{3, 4}));
  EXPECT_EQ(bins[2], (std::vector<size_t>{0}));
  EXPECT_THROW(data::pack_bfd({9}, 8), Error);
}

}  // namespace
}  // namespace prefer::train

namespace prefer::train {
namespace {

TEST(SftAssistantOnly, TurnExamplesGiveTheMaskedLossOfTheWholeConversation) {
  // The loss over the per-turn examples equals the mean NLL of the assistant tokens read off one forward
  // of the whole conversation (the scorer with a response mask over those tokens).
  const auto dir = model::test::model_fixture("llama-tiny");
  model::CausalLM m = model::load_model(dir);
  text::Tokenizer tok = text::Tokenizer::from_folder(dir);
  text::ChatTemplate tmpl = text::load_chat_template(dir / "tokenizer_config.json", {});
  data::ExampleTokenizer t(tok, &tmpl, {});
  data::Example ex;
  ex.completion = data::Content::of_messages(data::OrderedJson::parse(
      R"([{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue."},
          {"role": "user", "content": "Another?"}, {"role": "assistant", "content": "Green, I think."}])"));
  data::TokenizeStats st;
  auto turns = t.tokenize_assistant_turns(ex, st);
  ASSERT_EQ(turns.size(), 2u);
  data::TokenizedDataset d;
  for (const auto& x : turns) d.add(x);
  at::NoGradGuard ng;
  SftRecipe recipe(m, {.completion_only_loss = true});
  MicroStep s = recipe.step(d, {0, 1}, false);
  // The whole conversation, and a mask of the assistant tokens (the completions' positions).
  std::vector<int32_t> whole = tok.encode(tmpl.render(ex.completion.messages, {}), false);
  at::Tensor ids = at::tensor(std::vector<int64_t>(whole.begin(), whole.end()), at::kLong).unsqueeze(0);
  at::Tensor mask = at::zeros_like(ids, at::kBool);
  for (const auto& x : turns)
    for (size_t k = 0; k < x.chosen.completion_ids.size(); ++k) mask[0][static_cast<int64_t>(x.prompt_ids.size() + k)] = true;
  at::Tensor pos = at::arange(ids.size(1), at::kLong).unsqueeze(0);
  model::SequenceScores w = model::score(m, ids, pos, {}, mask);
  EXPECT_EQ(s.weight, static_cast<double>(mask.sum().item<int64_t>()));
  EXPECT_NEAR(s.loss_sum.item<double>(), -w.sum.item<double>(), 1e-4);
}

}  // namespace
}  // namespace prefer::train
