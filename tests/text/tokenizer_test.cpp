#include "text/tokenizer.h"

#include <memory>

#include "test_util.h"

namespace prefer::text {

TEST(Tokenizer, FixtureSentenceFromItsReadme) {
  // tests/fixtures/models/README: "The answer is short." encodes to [290, 302, 281, 273, 286, 121, 51].
  Tokenizer t = Tokenizer::from_folder(test::fixture("models/llama-tiny"));
  std::vector<int32_t> ids = t.encode("The answer is short.");
  EXPECT_EQ(ids, (std::vector<int32_t>{290, 302, 281, 273, 286, 121, 51}));
  EXPECT_EQ(t.tokens(ids)[1], "\xC4\xA0" "answer");
  EXPECT_EQ(t.decode(ids), "The answer is short.");
  EXPECT_EQ(t.vocab_size(), 320);
}

TEST(Tokenizer, SpecialTokensInsideText) {
  Tokenizer t = Tokenizer::from_folder(test::fixture("models/qwen2-tiny"));
  std::vector<int32_t> ids = t.encode("<|im_start|>user\nhi<|im_end|>");
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), 3);
  EXPECT_EQ(ids.back(), 4);
  EXPECT_EQ(t.decode(ids, true), "user\nhi");
  EXPECT_EQ(t.decode(ids, false), "<|im_start|>user\nhi<|im_end|>");
  EXPECT_TRUE(t.is_special(4));
  EXPECT_EQ(t.eos_id(), 4);
  EXPECT_EQ(t.pad_id(), 0);
  EXPECT_EQ(t.bos_id(), 1);
  EXPECT_EQ(t.token_to_id("<s>"), 1);
  EXPECT_TRUE(t.encode("").empty());
}

TEST(Tokenizer, AMovedTokenizerStillDecodes) {
  // The byte-level decoder asks the added vocabulary about each token: that must survive a move (it
  // once held a pointer into the moved-from object).
  Tokenizer from = Tokenizer::from_folder(test::fixture("models/qwen2-tiny"));
  std::vector<int32_t> ids = from.encode("<|im_start|>user\nhi<|im_end|>");
  auto moved = std::make_unique<Tokenizer>(std::move(from));
  { Tokenizer gone = std::move(*moved); *moved = std::move(gone); }
  EXPECT_EQ(moved->decode(ids, false), "<|im_start|>user\nhi<|im_end|>");
  EXPECT_EQ(moved->encode("<|im_start|>user\nhi<|im_end|>"), ids);
}

TEST(Tokenizer, SentencePieceStyleBpeWithByteFallback) {
  // A Llama-2/Mistral-shaped tokenizer.json written by hand: Metaspace-style normalizer, BOS template,
  // byte fallback for characters outside the vocabulary.
  Json j = Json::parse(R"({
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"}, {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
    "pre_tokenizer": null,
    "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": true, "fuse_unk": true,
              "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0xC3>": 3, "<0xA9>": 4, "\u2581": 5, "h": 6, "i": 7, "\u2581h": 8, "\u2581hi": 9},
              "merges": ["\u2581 h", "\u2581h i"]},
    "added_tokens": [{"id": 0, "content": "<unk>", "special": true}, {"id": 1, "content": "<s>", "special": true}, {"id": 2, "content": "</s>", "special": true}],
    "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]},
    "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}})");
  TokenizerConfig cfg;
  cfg.clean_up_tokenization_spaces = false;
  Tokenizer t = Tokenizer::from_json(j, cfg, "sp.json");
  // "hi é": ▁hi ▁ <0xC3> <0xA9> ; "zz": z is unknown and has no byte token -> one fused <unk>
  EXPECT_EQ(t.encode("hi \xC3\xA9"), (std::vector<int32_t>{1, 9, 5, 3, 4}));
  EXPECT_EQ(t.encode("hi \xC3\xA9", false), (std::vector<int32_t>{9, 5, 3, 4}));
  EXPECT_EQ(t.decode({1, 9, 5, 3, 4}, true), "hi \xC3\xA9");
  EXPECT_EQ(t.encode("zz", false), (std::vector<int32_t>{5, 0}));
}

TEST(Tokenizer, InvalidUtf8AndUnsupportedModels) {
  Tokenizer t = Tokenizer::from_folder(test::fixture("models/llama-tiny"));
  EXPECT_ERROR_WITH(t.encode("ok\xFF"), "invalid UTF-8 at byte 2");
  EXPECT_ERROR_WITH(Tokenizer::from_json(Json::parse(R"({"model": {"type": "WordPiece", "vocab": {}}})"), {}, "wp.json"),
                    "wp.json", "'model.type'", "unsupported tokenizer model 'WordPiece'");
  EXPECT_ERROR_WITH(Tokenizer::from_json(Json::parse(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                                                        "pre_tokenizer": {"type": "UnicodeScripts"}})"), {}, "u.json"),
                    "u.json", "'pre_tokenizer.type'", "unsupported pre-tokenizer 'UnicodeScripts'");
  test::TempDir tmp;
  EXPECT_ERROR_WITH(Tokenizer::from_folder(tmp.path()), "no tokenizer.json");
}

TEST(Tokenizer, CleanUpTokenizationSpaces) {
  EXPECT_EQ(clean_up_tokenization("Hello , world ! I 'm sure it 's fine ."), "Hello, world! I'm sure it's fine.");
}

}  // namespace prefer::text
