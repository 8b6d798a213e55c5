#include "data/batch.h"

#include <ATen/ATen.h>

#include "model/causal_lm.h"
#include "model/loader.h"
#include "model/scorer.h"
#include "pairs_fixture.h"
#include "test_util.h"

namespace prefer::data {

namespace {

TokenizedDataset pairs() {
  TokenizedDataset d;
  auto add = [&](std::vector<int32_t> p, std::vector<int32_t> c, std::vector<int32_t> r) { test::add_pair(d, p, c, r); };
  add({1, 290, 302}, {281, 273, 286, 121}, {51, 4});
  add({1, 77, 110, 265, 266}, {37}, {38, 39, 40, 41, 42, 4});
  return d;
}

// Per-sequence sums of log p(target | source slot), from the explicit score lists.
at::Tensor sums(const model::CausalLM& m, const Batch& b) {
  at::Tensor hidden = m.forward(b.ids, b.positions, b.layout);
  at::Tensor h = hidden.reshape({-1, hidden.size(-1)}).index_select(0, b.score_source);
  at::Tensor lp = model::chunked_token_logprobs(h, m.lm_head_weight(), b.score_target, 1024);
  return at::zeros({b.sequences}, lp.options()).index_add(0, b.score_sequence, lp);
}

// The same from one unpadded row per sequence, written directly from full logits.
double direct(const model::CausalLM& m, std::vector<int32_t> prompt, const std::vector<int32_t>& completion) {
  std::vector<int64_t> ids(prompt.begin(), prompt.end());
  ids.insert(ids.end(), completion.begin(), completion.end());
  int64_t n = static_cast<int64_t>(ids.size());
  at::Tensor t = at::tensor(at::ArrayRef<int64_t>(ids)).unsqueeze(0);
  at::Tensor logp = at::log_softmax(m.logits(m.forward(t, at::arange(n).unsqueeze(0), {})).to(at::kDouble), -1);
  double s = 0;
  for (int64_t i = static_cast<int64_t>(prompt.size()); i < n; ++i) s += logp[0][i - 1][ids[i]].item<double>();
  return s;
}

}  // namespace

TEST(Batch, ConcatenatedLayoutShapesAndMasks) {
  TokenizedDataset d = pairs();
  Batch b = make_batch(d, {0, 1}, {.pad_id = 0});
  EXPECT_EQ(b.ids.sizes(), (at::IntArrayRef{4, 11}));  // rows: 2 chosen, 2 rejected; longest 5 + 6
  EXPECT_EQ(b.sequences, 4);
  EXPECT_EQ(b.real_tokens, 7 + 6 + 5 + 11);
  EXPECT_NEAR(b.padding_fraction(), 1.0 - 29.0 / 44.0, 1e-12);
  EXPECT_EQ(b.response_mask[0].sum().item<int64_t>(), 4);
  EXPECT_EQ(b.score_source.size(0), 4 + 1 + 2 + 6);
  EXPECT_EQ(b.positions[3][10].item<int64_t>(), 10);
  EXPECT_FALSE(b.layout.key_mask[1][6].item<bool>());  // padding of the second chosen row
  Batch left = make_batch(d, {0, 1}, {.pad_side = PadSide::Left});
  EXPECT_FALSE(left.layout.key_mask[1][0].item<bool>());
  EXPECT_EQ(left.positions[1][5].item<int64_t>(), 0);  // first real token of a 6-token row
}

TEST(Batch, LeftRightAndPrefixSharedGiveTheSameLogProbs) {
  model::CausalLM m = model::load_model(test::fixture("models/llama-tiny"));
  TokenizedDataset d = pairs();
  at::Tensor right = sums(m, make_batch(d, {0, 1}, {.pad_side = PadSide::Right}));
  at::Tensor left = sums(m, make_batch(d, {0, 1}, {.pad_side = PadSide::Left}));
  at::Tensor shared = sums(m, make_batch(d, {0, 1}, {.layout = BatchLayout::PrefixShared}));
  at::Tensor shared_left = sums(m, make_batch(d, {0, 1}, {.pad_side = PadSide::Left, .layout = BatchLayout::PrefixShared}));
  double expect[4] = {direct(m, {1, 290, 302}, {281, 273, 286, 121}), direct(m, {1, 77, 110, 265, 266}, {37}),
                      direct(m, {1, 290, 302}, {51, 4}), direct(m, {1, 77, 110, 265, 266}, {38, 39, 40, 41, 42, 4})};
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(right[i].item<double>(), expect[i], 1e-4) << i;
    EXPECT_NEAR(left[i].item<double>(), expect[i], 1e-4) << i;
    EXPECT_NEAR(shared[i].item<double>(), expect[i], 1e-4) << i;
    EXPECT_NEAR(shared_left[i].item<double>(), expect[i], 1e-4) << i;
  }
}

TEST(Batch, PrefixSharedVisibility) {
  TokenizedDataset d = pairs();
  Batch b = make_batch(d, {0}, {.layout = BatchLayout::PrefixShared});
  // row: prompt 3 | chosen 4 | rejected 2 = 9 slots; rejected positions restart after the prompt
  EXPECT_EQ(b.ids.size(1), 9);
  EXPECT_EQ(b.positions[0][7].item<int64_t>(), 3);
  EXPECT_TRUE(b.layout.visibility[0][7][2].item<bool>());   // rejected sees the prompt
  EXPECT_FALSE(b.layout.visibility[0][7][4].item<bool>());  // but not chosen
  EXPECT_TRUE(b.layout.visibility[0][6][4].item<bool>());   // chosen sees itself
  EXPECT_EQ(b.score_source[4].item<int64_t>(), 2);          // first rejected token: from the last prompt slot
}

// Padding-free rows: the batch's rows one after another, each seeing only itself, give the log-probs of
// one unpadded row per sequence, in both layouts and on both padding sides; a small cap splits them.
TEST(Batch, PaddingFreeRowsGiveTheSameLogProbs) {
  model::CausalLM m = model::load_model(test::fixture("models/llama-tiny"));
  TokenizedDataset d = pairs();
  double expect[4] = {direct(m, {1, 290, 302}, {281, 273, 286, 121}), direct(m, {1, 77, 110, 265, 266}, {37}),
                      direct(m, {1, 290, 302}, {51, 4}), direct(m, {1, 77, 110, 265, 266}, {38, 39, 40, 41, 42, 4})};
  struct Case {
    BatchLayout layout;
    PadSide side;
    int64_t cap;
    int64_t rows, length;
  };
  // prefix-shared rows: 9 and 12 tokens; concatenated: 7, 6, 5 and 11 (29 tokens under a cap of 12: 3
  // rows, evenly filled at 11: {11}, {7}, {6, 5})
  for (const Case& c : {Case{BatchLayout::PrefixShared, PadSide::Right, 4096, 1, 21}, Case{BatchLayout::PrefixShared, PadSide::Left, 4096, 1, 21},
                        Case{BatchLayout::PrefixShared, PadSide::Right, 10, 2, 12}, Case{BatchLayout::Concatenated, PadSide::Right, 4096, 1, 29},
                        Case{BatchLayout::Concatenated, PadSide::Left, 12, 3, 11}}) {
    Batch b = make_batch(d, {0, 1}, {.pad_side = c.side, .layout = c.layout, .padding_free = true, .padding_free_tokens = c.cap});
    EXPECT_EQ(b.ids.sizes(), (at::IntArrayRef{c.rows, c.length})) << c.cap;
    EXPECT_EQ(b.real_tokens, c.layout == BatchLayout::PrefixShared ? 21 : 29);
    at::Tensor got = sums(m, b);
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(got[i].item<double>(), expect[i], 1e-4) << i << " cap " << c.cap;
  }
}

TEST(Batch, PaddingFreeVisibilityKeepsEachPairToItself) {
  TokenizedDataset d = pairs();
  Batch b = make_batch(d, {0, 1}, {.layout = BatchLayout::PrefixShared, .padding_free = true});
  // one row: pair 0 (prompt 3 | chosen 4 | rejected 2) in slots 0-8, pair 1 (5 | 1 | 6) in slots 9-20
  ASSERT_EQ(b.ids.sizes(), (at::IntArrayRef{1, 21}));
  EXPECT_EQ(b.positions[0][9].item<int64_t>(), 0);    // pair 1 starts its positions again
  EXPECT_EQ(b.positions[0][15].item<int64_t>(), 5);   // its rejected restarts after its prompt
  EXPECT_FALSE(b.layout.visibility[0][9][8].item<bool>());   // nothing of pair 0
  EXPECT_FALSE(b.layout.visibility[0][20][0].item<bool>());
  EXPECT_TRUE(b.layout.visibility[0][15][13].item<bool>());  // its rejected sees its prompt
  EXPECT_FALSE(b.layout.visibility[0][15][14].item<bool>()); // not its chosen
  EXPECT_TRUE(b.layout.visibility[0][7][2].item<bool>());    // pair 0 as before
  EXPECT_FALSE(b.layout.visibility[0][7][4].item<bool>());
  // per pair, prompt + chosen + rejected: (1+2+3) + (4+5+6+7) + (4+5), then (1+..+5) + 6 + (6+..+11)
  EXPECT_EQ(b.layout.visibility.sum().item<int64_t>(), (6 + 22 + 9) + (15 + 6 + 51));
  // the first rejected token of pair 1 (sequence 3) is predicted from pair 1's last prompt slot (13)
  at::Tensor first = (b.score_sequence == 3).nonzero().min();
  EXPECT_EQ(b.score_source[first.item<int64_t>()].item<int64_t>(), 13);
  EXPECT_EQ(b.padding_fraction(), 0.0);
}

TEST(Batch, SingleCompletionsAndErrors) {
  TokenizedDataset d;
  TokenizedExample ex;
  ex.prompt_ids = {1, 2};
  ex.chosen.completion_ids = {3, 4, 5};
  ex.label = true;
  d.add(ex);
  Batch b = make_batch(d, {0}, {.pad_to_multiple_of = 8});
  EXPECT_FALSE(b.paired);
  EXPECT_EQ(b.ids.sizes(), (at::IntArrayRef{1, 8}));
  EXPECT_EQ(b.sequences, 1);
  EXPECT_ERROR_WITH(make_batch(d, {}), "empty batch");
}

TEST(Batch, TokenCountAlignmentOnlyAddsPadding) {
  TokenizedDataset d;
  for (int i = 0; i < 3; ++i) {
    TokenizedExample ex;
    ex.prompt_ids = {1, 2, 3};
    ex.chosen.completion_ids = {4, 5};
    ex.label = true;
    d.add(ex);
  }
  Batch plain = make_batch(d, {0, 1, 2});
  // 3 rows of 5 tokens: the smallest T with 3 * T a multiple of 64 is 64; with pad_to_multiple_of 8 too.
  Batch aligned = make_batch(d, {0, 1, 2}, {.tokens_multiple_of = 64});
  EXPECT_EQ(aligned.ids.sizes(), (at::IntArrayRef{3, 64}));
  Batch both = make_batch(d, {0, 1}, {.pad_to_multiple_of = 8, .tokens_multiple_of = 64});
  EXPECT_EQ(both.ids.sizes(), (at::IntArrayRef{2, 32}));
  EXPECT_EQ(aligned.real_tokens, plain.real_tokens);
  EXPECT_TRUE(aligned.score_target.equal(plain.score_target));
  EXPECT_TRUE(aligned.score_sequence.equal(plain.score_sequence));
  EXPECT_EQ(aligned.layout.key_mask.sum().item<int64_t>(), plain.layout.key_mask.sum().item<int64_t>());
}

}  // namespace prefer::data
