#include "text/component_error.h"

#include "test_util.h"

namespace prefer::text {

TEST(ComponentError, NamesFilePathAndSupportedTypes) {
  ComponentContext ctx{"tok.json", "pre_tokenizer"};
  EXPECT_ERROR_WITH(throw_unsupported("pre-tokenizer", "Foo", {"A", "B"}, ctx), "tok.json", "'pre_tokenizer.type'",
                    "unsupported pre-tokenizer 'Foo'", "supported: A, B");
  EXPECT_EQ(ctx.child(".pretokenizers[1]").path, "pre_tokenizer.pretokenizers[1]");
  EXPECT_EQ(component_type(Json::parse(R"({"type": "NFC"})"), ctx), "NFC");
  EXPECT_ERROR_WITH(component_type(Json::parse(R"({"kind": "NFC"})"), ctx), "'pre_tokenizer.type'", "missing");
}

}  // namespace prefer::text
