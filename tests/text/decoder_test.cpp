#include "text/decoder.h"

#include "test_util.h"

namespace prefer::text {

static std::string decode_tokens(const char* json, std::vector<std::string> tokens) {
  auto d = make_decoder(Json::parse(json), {"t.json", "decoder"}, [](const std::string& s) { return s == "<|im_end|>"; });
  return d->decode(std::move(tokens));
}

TEST(Decoder, ByteLevelMapsCharactersBackToBytes) {
  EXPECT_EQ(decode_tokens(R"({"type": "ByteLevel"})", {"Hello", "\xC4\xA0world", "\xC4\x8A"}), "Hello world\n");
  // "é" is bytes C3 A9, spelled "Ã" (U+00C3) "©" (U+00A9) in byte-level form; split across tokens.
  EXPECT_EQ(decode_tokens(R"({"type": "ByteLevel"})", {"\xC3\x83", "\xC2\xA9"}), "\xC3\xA9");
  // A lone lead byte decodes to U+FFFD; added tokens pass through unchanged.
  EXPECT_EQ(decode_tokens(R"({"type": "ByteLevel"})", {"\xC3\x83", "<|im_end|>", "a"}), "\xEF\xBF\xBD<|im_end|>a");
}

TEST(Decoder, SentencePieceStyleChain) {
  const char* chain = R"({"type": "Sequence", "decoders": [
      {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
      {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})";
  EXPECT_EQ(decode_tokens(chain, {"\xE2\x96\x81Hello", "\xE2\x96\x81w", "<0xC3>", "<0xA9>", "!"}), "Hello w\xC3\xA9!");
  EXPECT_EQ(decode_tokens(chain, {"<0xFF>", "x"}), "\xEF\xBF\xBDx");
}

TEST(Decoder, MetaspaceDropsTheFirstLeadingSpace) {
  EXPECT_EQ(decode_tokens(R"({"type": "Metaspace", "replacement": "\u2581"})", {"\xE2\x96\x81" "a", "\xE2\x96\x81" "b"}), "a b");
}

TEST(Decoder, StripBothEnds) {
  EXPECT_EQ(decode_tokens(R"({"type": "Strip", "content": "x", "start": 2, "stop": 1})", {"xxxaxx"}), "xax");
}

TEST(Decoder, UnknownType) {
  EXPECT_ERROR_WITH(decode_tokens(R"({"type": "WordPiece"})", {}), "'decoder.type'", "unsupported decoder 'WordPiece'");
}

}  // namespace prefer::text
