#include "data/extract_prompt.h"

#include <gtest/gtest.h>

namespace prefer::data {

static Example pair(const std::string& c, const std::string& r) {
  Example ex;
  ex.chosen = Content::of_text(c);
  ex.rejected = Content::of_text(r);
  return ex;
}

TEST(ExtractPrompt, SharedTextPrefixWithTheSpaceMovedToTheCompletions) {
  Example ex = pair("The sky is blue.", "The sky is green.");
  extract_prompt(ex);
  EXPECT_EQ(ex.prompt.text, "The sky is");
  EXPECT_EQ(ex.chosen.text, " blue.");
  EXPECT_EQ(ex.rejected.text, " green.");
}

TEST(ExtractPrompt, TrlQuirksArePreserved) {
  Example ex = pair("abc", "abcdef");  // one is a prefix of the other: TRL leaves one shared char out
  extract_prompt(ex);
  EXPECT_EQ(ex.prompt.text, "ab");
  EXPECT_EQ(ex.chosen.text, "c");
  EXPECT_EQ(ex.rejected.text, "cdef");
  Example multi = pair("caf\xC3\xA9 au lait", "caf\xC3\xA9 noir");  // code points, not bytes
  extract_prompt(multi);
  EXPECT_EQ(multi.prompt.text, "caf\xC3\xA9");
  EXPECT_EQ(multi.chosen.text, " au lait");
}

TEST(ExtractPrompt, ConversationsShareWholeMessages) {
  Example ex;
  ex.chosen = Content::of_messages(OrderedJson::parse(R"([{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}])"));
  ex.rejected = Content::of_messages(OrderedJson::parse(R"([{"role":"user","content":"hi"},{"role":"assistant","content":"bye"}])"));
  extract_prompt(ex);
  ASSERT_EQ(ex.prompt.messages.size(), 1u);
  EXPECT_EQ(ex.prompt.messages[0]["content"], "hi");
  EXPECT_EQ(ex.chosen.messages.size(), 1u);
  EXPECT_EQ(ex.rejected.messages[0]["content"], "bye");
}

TEST(ExtractPrompt, ExplicitPromptIsLeftAlone) {
  Example ex = pair("ab", "ac");
  ex.prompt = Content::of_text("P");
  extract_prompt(ex);
  EXPECT_EQ(ex.prompt.text, "P");
  EXPECT_EQ(ex.chosen.text, "ab");
}

}  // namespace prefer::data
