#include "serve/text_stream.h"

#include <gtest/gtest.h>

namespace prefer::serve {

namespace {

// A decoder over a toy vocabulary: id k is the k-th piece; pieces may be single bytes of a UTF-8
// character, which decode to U+FFFD until the character is whole (as byte-level decoders do).
TextStream::Decode toy(std::vector<std::string> pieces) {
  return [pieces](const std::vector<int32_t>& ids) {
    std::string bytes;
    for (int32_t id : ids) bytes += pieces[static_cast<size_t>(id)];
    // Replace a trailing incomplete UTF-8 sequence by U+FFFD.
    size_t i = bytes.size(), back = 0;
    while (i > 0 && back < 4 && (static_cast<unsigned char>(bytes[i - 1]) & 0xC0) == 0x80) --i, ++back;
    if (i > 0) {
      const unsigned char lead = static_cast<unsigned char>(bytes[i - 1]);
      const size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
      if (need > back + 1) bytes = bytes.substr(0, i - 1) + "\xEF\xBF\xBD";
    }
    return bytes;
  };
}

std::string run(TextStream& s, const std::vector<int32_t>& ids, std::vector<std::string>* deltas = nullptr) {
  std::string all;
  for (int32_t id : ids) {
    std::string d = s.push(id);
    if (deltas && !d.empty()) deltas->push_back(d);
    all += d;
  }
  std::string rest = s.finish();
  if (deltas && !rest.empty()) deltas->push_back(rest);
  return all + rest;
}

}  // namespace

TEST(TextStream, DeltasJoinToTheWholeTextAndNeverSplitACharacter) {
  // "é" = C3 A9 arrives in two tokens; no delta may hold half of it.
  TextStream s(toy({"a", "\xC3", "\xA9", "b"}), {});
  std::vector<std::string> deltas;
  EXPECT_EQ(run(s, {0, 1, 2, 3}, &deltas), "a\xC3\xA9" "b");
  EXPECT_EQ(deltas, (std::vector<std::string>{"a", "\xC3\xA9", "b"}));
  EXPECT_FALSE(s.stopped());
}

TEST(TextStream, CutsBeforeTheFirstStopStringEvenAcrossTokens) {
  // Stop "END" arrives as "E", "ND": "E" is held back until it is known not to start the stop.
  TextStream s(toy({"x", "E", "ND", "y", "Ex"}), {"END"});
  std::vector<std::string> deltas;
  EXPECT_EQ(run(s, {0, 4, 1, 2, 3}, &deltas), "xEx");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.text(), "xEx");
  EXPECT_EQ(deltas, (std::vector<std::string>{"x", "Ex"}));
  // A held-back prefix that never completes is sent at the end.
  TextStream t(toy({"x", "E"}), {"END"});
  EXPECT_EQ(run(t, {0, 1}), "xE");
  EXPECT_FALSE(t.stopped());
  // The earliest of several stops wins, in one token.
  TextStream u(toy({"ab\ncd.ef"}), {".", "\n"});
  EXPECT_EQ(run(u, {0}), "ab");
}

}  // namespace prefer::serve
