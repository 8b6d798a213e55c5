#include <gtest/gtest.h>

#include "text/jinja_error.h"

namespace prefer::text::jinja {
namespace {

TEST(JinjaError, NamesOriginLineAndColumn) {
  Error e = template_error("cfg/tokenizer_config.json (chat_template)", {3, 14}, "unknown filter 'trimm'", "did you mean 'trim'?");
  EXPECT_EQ(e.file(), "cfg/tokenizer_config.json (chat_template)");
  EXPECT_EQ(e.line(), 3);
  EXPECT_EQ(e.message(), "template error at column 14: unknown filter 'trimm'");
  EXPECT_EQ(e.hint(), "did you mean 'trim'?");
  EXPECT_STREQ(e.what(),
               "cfg/tokenizer_config.json (chat_template):3: template error at column 14: unknown filter 'trimm' "
               "(hint: did you mean 'trim'?)");
}

TEST(JinjaError, WithoutColumn) {
  Error e = template_error("t.jinja", {}, "boom");
  EXPECT_EQ(e.message(), "template error: boom");
  EXPECT_EQ(e.line(), 0);
}

}  // namespace
}  // namespace prefer::text::jinja
