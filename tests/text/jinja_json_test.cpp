// json.dumps as transformers' tojson calls it; expected text is what Python 3's json module writes.
#include <gtest/gtest.h>

#include <cmath>

#include "text/jinja_error.h"
#include "text/jinja_json.h"
#include "jinja_values.h"

namespace prefer::text::jinja {
namespace {

using OJson = nlohmann::ordered_json;


TEST(JinjaJson, DumpsDefaults) {
  Value v = Value::from_json(OJson::parse(R"({"b": 1, "a": [1, 2.5, "é\"\n\u0001"], "c": null, "d": true, "e": {}, "f": []})"));
  EXPECT_EQ(to_json(v), R"({"b": 1, "a": [1, 2.5, "é\"\n\u0001"], "c": null, "d": true, "e": {}, "f": []})");
  EXPECT_EQ(to_json(Value::number(1.0)), "1.0");
  EXPECT_EQ(to_json(Value::number(NAN)), "NaN");
  EXPECT_EQ(to_json(Value::number(-INFINITY)), "-Infinity");
  EXPECT_EQ(to_json(Value::tuple({I(1), I(2)})), "[1, 2]");
  EXPECT_EQ(to_json(S("</script> & <b>")), "\"</script> & <b>\"");  // no HTML escaping (transformers)
  EXPECT_THROW(to_json(Value()), EvalError);
  EXPECT_THROW(to_json(Value::make_namespace({})), EvalError);
}

TEST(JinjaJson, DumpsOptions) {
  Value v = Value::from_json(OJson::parse(R"({"b": [1, {"x": "日"}], "a": {}})"));
  JsonOptions indent2;
  indent2.indent = 2;
  EXPECT_EQ(to_json(v, indent2), "{\n  \"b\": [\n    1,\n    {\n      \"x\": \"日\"\n    }\n  ],\n  \"a\": {}\n}");
  JsonOptions zero;
  zero.indent = 0;  // Python: indent=0 still puts every item on its own line
  EXPECT_EQ(to_json(Value::list({I(1), I(2)}), zero), "[\n1,\n2\n]");
  JsonOptions ascii_sorted;
  ascii_sorted.ensure_ascii = true;
  ascii_sorted.sort_keys = true;
  EXPECT_EQ(to_json(v, ascii_sorted), R"({"a": {}, "b": [1, {"x": "\u65e5"}]})");
  EXPECT_EQ(to_json(S("🎉"), ascii_sorted), R"("\ud83c\udf89")");
  JsonOptions compact;
  compact.custom_separators = true;
  compact.item_separator = ",";
  compact.key_separator = ":";
  EXPECT_EQ(to_json(v, compact), R"({"b":[1,{"x":"日"}],"a":{}})");
  JsonOptions tab;
  tab.has_indent_text = true;
  tab.indent_text = "\t";
  EXPECT_EQ(to_json(Value::list({I(1)}), tab), "[\n\t1\n]");
}

}  // namespace
}  // namespace prefer::text::jinja
