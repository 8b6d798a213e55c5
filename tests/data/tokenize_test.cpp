#include "data/tokenize.h"

#include "test_util.h"

namespace prefer::data {

namespace {
struct Fixture {
  text::Tokenizer tok = text::Tokenizer::from_folder(test::fixture("models/qwen2-tiny"));
  text::ChatTemplate tmpl = text::load_chat_template(test::fixture("models/qwen2-tiny/tokenizer_config.json"), {});
};
Example ids_pair(std::vector<int32_t> p, std::vector<int32_t> c, std::vector<int32_t> r) {
  Example ex;
  ex.line = 7;
  ex.prompt = Content::of_ids(std::move(p));
  ex.chosen = Content::of_ids(std::move(c));
  ex.rejected = Content::of_ids(std::move(r));
  return ex;
}
}  // namespace

TEST(Tokenize, PlainTextAppendsEosAndSplitsAtThePrompt) {
  Fixture f;
  ExampleTokenizer t(f.tok, &f.tmpl, {});
  Example ex;
  ex.prompt = Content::of_text("The answer is");
  ex.chosen = Content::of_text(" short.");
  ex.rejected = Content::of_text(" long<|im_end|>");  // already ends with EOS: not doubled
  TokenizeStats st;
  auto out = t.tokenize(ex, st);
  ASSERT_TRUE(out);
  EXPECT_EQ(f.tok.decode(out->prompt_ids), "The answer is");
  EXPECT_EQ(f.tok.decode(out->chosen.completion_ids), " short.<|im_end|>");
  EXPECT_EQ(out->chosen.completion_ids.back(), 4);  // <|im_end|>, the fixture's EOS
  EXPECT_EQ(f.tok.decode(out->rejected.completion_ids), " long<|im_end|>");
  EXPECT_EQ(st.prefix_mismatches, 0);
}

TEST(Tokenize, ConversationsUseTheChatTemplate) {
  Fixture f;
  ExampleTokenizer t(f.tok, &f.tmpl, {});
  Example ex;
  ex.prompt = Content::of_messages(OrderedJson::parse(R"([{"role": "user", "content": "hi"}])"));
  ex.chosen = Content::of_messages(OrderedJson::parse(R"([{"role": "assistant", "content": "hello"}])"));
  ex.rejected = Content::of_messages(OrderedJson::parse(R"([{"role": "assistant", "content": "go"}])"));
  TokenizeStats st;
  auto out = t.tokenize(ex, st);
  ASSERT_TRUE(out);
  // ChatML, written out by hand.
  EXPECT_EQ(f.tok.decode(out->prompt_ids), "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(f.tok.decode(out->chosen.completion_ids), "hello<|im_end|>\n");
  EXPECT_EQ(f.tok.decode(out->rejected.completion_ids), "go<|im_end|>\n");
}

TEST(Tokenize, PrefixMismatchIsCountedAndCutAtThePromptLength) {
  Fixture f;
  ExampleTokenizer t(f.tok, &f.tmpl, {});
  Example ex;
  // "ans" + "wer" tokenizes differently from "ans" alone, so the prompt's ids are not a prefix.
  ex.line = 12;
  ex.prompt = Content::of_text("The ans");
  ex.chosen = Content::of_text("wer");
  ex.rejected = Content::of_text("x");
  TokenizeStats st;
  auto out = t.tokenize(ex, st);
  std::vector<int32_t> full = f.tok.encode("The answer<|im_end|>");
  std::vector<int32_t> p = f.tok.encode("The ans");
  ASSERT_NE(std::vector<int32_t>(full.begin(), full.begin() + p.size()), p);
  EXPECT_EQ(st.prefix_mismatches, 1);
  EXPECT_EQ(st.first_mismatch_line, 12);
  EXPECT_EQ(out->chosen.completion_ids, std::vector<int32_t>(full.begin() + p.size(), full.end()));
}

TEST(Tokenize, TruncationKeepStartKeepEndAndPromptLimit) {
  Fixture f;
  TokenizeStats st;
  ExampleTokenizer keep_start(f.tok, nullptr, {.max_length = 5});
  auto a = keep_start.tokenize(ids_pair({1, 2, 3}, {4, 5, 6, 7}, {8}), st);
  EXPECT_EQ(a->chosen.completion_ids, (std::vector<int32_t>{4, 5}));
  EXPECT_TRUE(a->chosen.truncated);
  EXPECT_EQ(a->rejected.completion_ids, (std::vector<int32_t>{8}));
  EXPECT_EQ(st.truncated, 1);

  ExampleTokenizer keep_end(f.tok, nullptr, {.max_length = 5, .truncation_mode = TruncationMode::KeepEnd});
  auto b = keep_end.tokenize(ids_pair({1, 2, 3}, {4, 5, 6, 7}, {8}), st);
  EXPECT_EQ(b->chosen.prompt_start, 2);  // rows are cut separately: chosen row = 3 | 4 5 6 7
  EXPECT_EQ(b->chosen.completion_ids.size(), 4u);
  EXPECT_EQ(b->rejected.prompt_start, 0);

  ExampleTokenizer drop(f.tok, nullptr, {.max_length = 3});
  EXPECT_FALSE(drop.tokenize(ids_pair({1, 2, 3}, {4}, {5}), st).has_value());
  EXPECT_EQ(st.dropped, 1);
  EXPECT_EQ(st.dropped_lines, (std::vector<int64_t>{7}));

  ExampleTokenizer prompt_limit(f.tok, nullptr, {.max_length = 0, .max_prompt_length = 2});
  EXPECT_EQ(prompt_limit.tokenize(ids_pair({1, 2, 3}, {4}, {5}), st)->prompt_ids, (std::vector<int32_t>{2, 3}));
}

TEST(Tokenize, DoubleBosIsRemoved) {
  // Text that already starts with the BOS token, after the tokenizer has added its own, holds BOS twice;
  // the fixture's tokenizer adds none itself, so the text spells it out twice.
  Fixture f;
  ExampleTokenizer t(f.tok, nullptr, {});
  Example ex;
  ex.prompt = Content::of_text("<s><s>Hi");
  ex.chosen = Content::of_text(" a");
  ex.rejected = Content::of_text(" b");
  TokenizeStats st;
  auto out = t.tokenize(ex, st);
  EXPECT_EQ(out->prompt_ids[0], 1);
  EXPECT_NE(out->prompt_ids[1], 1);
  EXPECT_EQ(st.double_bos_removed, 3);  // prompt, prompt+chosen, prompt+rejected
}

TEST(Tokenize, ConversationsWithoutATemplateAreAnError) {
  Fixture f;
  ExampleTokenizer t(f.tok, nullptr, {});
  Example ex;
  ex.line = 3;
  ex.prompt = Content::of_messages(OrderedJson::parse(R"([{"role": "user", "content": "hi"}])"));
  ex.chosen = Content::of_messages(OrderedJson::parse(R"([{"role": "assistant", "content": "a"}])"));
  ex.rejected = Content::of_messages(OrderedJson::parse(R"([{"role": "assistant", "content": "b"}])"));
  TokenizeStats st;
  EXPECT_ERROR_WITH(t.tokenize(ex, st, "d.jsonl"), "d.jsonl:3", "needs a chat template");
}

}  // namespace prefer::data

namespace prefer::data {

TEST(Tokenize, AssistantOnlyLossMakesOneExamplePerAssistantTurn) {
  Fixture f;
  ExampleTokenizer t(f.tok, &f.tmpl, {});
  Example ex;
  ex.line = 3;
  ex.completion = Content::of_messages(OrderedJson::parse(
      R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
          {"role": "user", "content": "and?"}, {"role": "assistant", "content": "bye"}])"));
  TokenizeStats st;
  auto turns = t.tokenize_assistant_turns(ex, st);
  ASSERT_EQ(turns.size(), 2u);
  // ChatML by hand: each turn's completion is the assistant's content and its end-of-turn marker, and
  // prompt + completion is a prefix of the whole conversation's tokens.
  EXPECT_EQ(f.tok.decode(turns[0].chosen.completion_ids), "hello<|im_end|>\n");
  EXPECT_EQ(f.tok.decode(turns[1].chosen.completion_ids), "bye<|im_end|>\n");
  EXPECT_EQ(f.tok.decode(turns[1].prompt_ids),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>\n"
            "<|im_start|>user\nand?<|im_end|>\n<|im_start|>assistant\n");
  std::vector<int32_t> whole = f.tok.encode(f.tmpl.render(ex.completion.messages, {}), false);
  for (const auto& turn : turns) {
    std::vector<int32_t> ids = turn.prompt_ids;
    ids.insert(ids.end(), turn.chosen.completion_ids.begin(), turn.chosen.completion_ids.end());
    ASSERT_LE(ids.size(), whole.size());
    EXPECT_TRUE(std::equal(ids.begin(), ids.end(), whole.begin()));
    EXPECT_EQ(turn.line, 3);
  }
}

TEST(Tokenize, AssistantOnlyLossRefusesTemplatesThatRenderPrefixesDifferently) {
  Fixture f;
  // The last message gets a marker: a prefix of the conversation is not a prefix of its rendering.
  text::ChatTemplate odd = text::ChatTemplate::parse(
      "{% for m in messages %}{{ m.role }}: {{ m.content }}{% if loop.last %} [end]{% endif %}\n{% endfor %}"
      "{% if add_generation_prompt %}assistant: {% endif %}", "test");
  ExampleTokenizer t(f.tok, &odd, {});
  Example ex;
  ex.completion = Content::of_messages(OrderedJson::parse(
      R"([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "x"},
          {"role": "assistant", "content": "y"}])"));
  TokenizeStats st;
  EXPECT_ERROR_WITH(t.tokenize_assistant_turns(ex, st, "c.jsonl"), "'assistant_only_loss'", "cannot be located");
  Example text;
  text.prompt = Content::of_text("a");
  text.completion = Content::of_text("b");
  EXPECT_ERROR_WITH(t.tokenize_assistant_turns(text, st), "needs whole conversations");
}

}  // namespace prefer::data
