// Statements: the trees the parser builds, and errors with line and column.
#include "test_util.h"
#include "text/jinja_parser.h"

namespace prefer::text::jinja {
namespace {

TEST(JinjaParser, Statements) {
  auto t = parse_template(
      "{% for k, v in d.items() if k != 'x' %}{% else %}{% endfor %}"
      "{% set ns.a = 1 %}{% set a, b = 1, 2 %}{% set blk | upper %}x{% endset %}"
      "{% macro m(a, b=2) %}{% endmacro m %}{% if a %}{% elif b %}{% else %}{% endif %}"
      "{% filter upper %}{% endfilter %}{% generation %}gen{% endgeneration %}",
      "t");
  ASSERT_EQ(t->body.size(), 8u);
  const auto& f = std::get<ast::For>(t->body[0]->node);
  EXPECT_EQ(f.target.names, (std::vector<std::string>{"k", "v"}));
  EXPECT_TRUE(f.target.unpack);
  EXPECT_TRUE(std::holds_alternative<ast::Compare>(f.condition->node));
  const auto& ns = std::get<ast::Set>(t->body[1]->node);
  EXPECT_EQ(ns.target.attribute, "a");
  EXPECT_TRUE(std::get<ast::Set>(t->body[2]->node).target.unpack);
  EXPECT_EQ(std::get<ast::SetBlock>(t->body[3]->node).filters.at(0).name, "upper");
  const auto& m = std::get<ast::Macro>(t->body[4]->node);
  EXPECT_EQ(m.params.size(), 2u);
  EXPECT_EQ(m.params[0].second, nullptr);
  EXPECT_EQ(std::get<ast::Literal>(m.params[1].second->node).value.as_int(), 2);
  EXPECT_EQ(std::get<ast::If>(t->body[5]->node).branches.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<ast::FilterBlock>(t->body[6]->node));
  EXPECT_EQ(std::get<ast::Text>(t->body[7]->node).text, "gen");  // generation renders its body
}

TEST(JinjaParser, SyntaxErrorsHaveLineAndColumn) {
  EXPECT_ERROR_WITH(parse_template("{% for x in y %}\n  {{ x | trimm }}\n{% endfor %}", "chat.jinja"), "chat.jinja:2:",
                    "column 10", "unknown filter 'trimm'");
  EXPECT_ERROR_WITH(parse_template("a\n{% while x %}", "t"), "t:2:", "column 4", "unknown statement 'while'");
  EXPECT_ERROR_WITH(parse_template("{% include 'x' %}", "t"), "'include' statements are not supported");
  EXPECT_ERROR_WITH(parse_template("{% if x %}\n{% for y in z %}", "t"), "t:2:", "'for' is never closed: expected 'endfor' or 'else'");
  EXPECT_ERROR_WITH(parse_template("{% for y in z %}{% endif %}", "t"), "column 20", "unexpected 'endif'", "close the 'for' on line 1");
  EXPECT_ERROR_WITH(parse_template("{% endfor %}", "t"), "unexpected 'endfor'");
  EXPECT_ERROR_WITH(parse_template("{% break %}", "t"), "'break' outside of a loop");
  EXPECT_ERROR_WITH(parse_template("{% set 1 = x %}", "t"), "expected a name");
  EXPECT_ERROR_WITH(parse_template("{% macro m(a=1, b) %}{% endmacro %}", "t"), "parameter without a default");
  EXPECT_ERROR_WITH(parse_template("{% for x in y recursive %}{% endfor %}", "t"), "recursive loops");
  std::string deep_blocks;
  for (int i = 0; i < 300; ++i) deep_blocks += "{% if x %}";
  EXPECT_ERROR_WITH(parse_template(deep_blocks, "t"), "nested too deeply");
}

}  // namespace
}  // namespace prefer::text::jinja
