// Tokens, positions and whitespace control (Jinja2 with trim_blocks and lstrip_blocks, as transformers).
#include "test_util.h"
#include "text/jinja_lexer.h"

namespace prefer::text::jinja {
namespace {

// The concatenated text tokens: what the template emits around its tags.
std::string texts(const std::string& src, LexerOptions o = {}) {
  std::string out;
  for (const Token& t : tokenize(src, "t", o))
    if (t.kind == TokenKind::Text) out += "[" + t.value + "]";
  return out;
}

std::vector<std::pair<TokenKind, std::string>> kinds(const std::string& src) {
  std::vector<std::pair<TokenKind, std::string>> out;
  for (const Token& t : tokenize(src, "t")) out.emplace_back(t.kind, t.value);
  return out;
}

TEST(JinjaLexer, TokensOfAnExpression) {
  auto k = kinds("a{{ x.y[0] | f(1.5, 'q') ~ -2 }}b");
  std::vector<std::pair<TokenKind, std::string>> want = {
      {TokenKind::Text, "a"},        {TokenKind::VariableBegin, "{{"}, {TokenKind::Name, "x"},
      {TokenKind::Operator, "."},    {TokenKind::Name, "y"},           {TokenKind::Operator, "["},
      {TokenKind::Integer, "0"},     {TokenKind::Operator, "]"},       {TokenKind::Operator, "|"},
      {TokenKind::Name, "f"},        {TokenKind::Operator, "("},       {TokenKind::Float, "1.5"},
      {TokenKind::Operator, ","},    {TokenKind::String, "q"},         {TokenKind::Operator, ")"},
      {TokenKind::Operator, "~"},    {TokenKind::Operator, "-"},       {TokenKind::Integer, "2"},
      {TokenKind::VariableEnd, "}}"}, {TokenKind::Text, "b"},          {TokenKind::End, ""}};
  EXPECT_EQ(k, want);
}

TEST(JinjaLexer, MultiCharacterOperatorsAndNumbers) {
  auto k = kinds("{{ a // b ** c != d <= e >= f == g }}{{ 1_000 }}{{ 2e3 }}{{ x.0 }}");
  std::vector<std::string> ops;
  for (auto& [kind, v] : k)
    if (kind == TokenKind::Operator || kind == TokenKind::Integer || kind == TokenKind::Float) ops.push_back(v);
  EXPECT_EQ(ops, (std::vector<std::string>{"//", "**", "!=", "<=", ">=", "==", "1000", "2e3", ".", "0"}));
  EXPECT_EQ(k[k.size() - 3].first, TokenKind::Integer);  // `.0` after a name is an index, not a float
}

TEST(JinjaLexer, StringEscapesArePythons) {
  auto k = kinds(R"({{ 'a\nb\t\'c\' \\ \x41\u00e9\U0001F389 \q' }}{{ "it's" }})");
  EXPECT_EQ(k[1].second, "a\nb\t'c' \\ Aé🎉 \\q");  // unknown escapes keep their backslash
  EXPECT_EQ(k[4].second, "it's");
}

TEST(JinjaLexer, PositionsAreLineAndColumn) {
  auto toks = tokenize("line one\n  {{ x }}", "t");
  EXPECT_EQ(toks[1].kind, TokenKind::VariableBegin);
  EXPECT_EQ(toks[1].pos.line, 2);
  EXPECT_EQ(toks[1].pos.column, 3);
  EXPECT_EQ(toks[2].pos.column, 6);
  // Columns count code points, as editors show them.
  auto t2 = tokenize("{{ 'é' ~ y }}", "t");
  EXPECT_EQ(t2[3].value, "y");
  EXPECT_EQ(t2[3].pos.column, 10);
}

TEST(JinjaLexer, DashStripsAllWhitespace) {
  EXPECT_EQ(texts("a \n\t {{- x -}} \n b"), "[a][b]");
  EXPECT_EQ(texts("a  {%- if x -%}  \n\n b{% endif %}"), "[a][b]");
  EXPECT_EQ(texts("a \n {#- c -#} \n b"), "[a][b]");
}

TEST(JinjaLexer, TrimBlocksRemovesOneNewlineAfterBlockTags) {
  EXPECT_EQ(texts("{% if x %}\nA\n{% endif %}\n\nB"), "[A\n][\nB]");
  EXPECT_EQ(texts("{# note #}\nA"), "[A]");
  EXPECT_EQ(texts("{{ x }}\nA"), "[\nA]");  // not after expressions
  EXPECT_EQ(texts("{% if x +%}\nA{% endif %}"), "[\nA]");  // `+%}` keeps it
  EXPECT_EQ(texts("{% if x %}\nA{% endif %}", {.trim_blocks = false, .lstrip_blocks = true}), "[\nA]");
}

TEST(JinjaLexer, LstripBlocksRemovesIndentBeforeBlockTags) {
  EXPECT_EQ(texts("A\n    {% if x %}B{% endif %}"), "[A\n][B]");
  EXPECT_EQ(texts("  {% if x %}B{% endif %}"), "[B]");  // at the very start too
  EXPECT_EQ(texts("A\n  {{ x }}"), "[A\n  ]");          // not before expressions
  EXPECT_EQ(texts("A x {% if x %}B{% endif %}"), "[A x ][B]");  // only when the tag starts the line
  EXPECT_EQ(texts("A\n  {%+ if x %}B{% endif %}"), "[A\n  ][B]");
  EXPECT_EQ(texts("A\n  {# c #}B"), "[A\n][B]");
  // After a trimmed newline the next line's indent still counts as the start of a line.
  EXPECT_EQ(texts("{% if a %}\n  {% if b %}\nX\n  {% endif %}\n{% endif %}"), "[X\n]");
}

TEST(JinjaLexer, NewlinesNormalisedAndTrailingNewlineDropped) {
  EXPECT_EQ(texts("a\r\nb\rc\n"), "[a\nb\nc]");
  EXPECT_EQ(texts("a\n\n"), "[a\n]");
}

TEST(JinjaLexer, RawBlocksAreText) {
  EXPECT_EQ(texts("{% raw %}{{ x }}{% endraw %}"), "[{{ x }}]");
  EXPECT_EQ(texts("{% raw -%}  {% if %}  {%- endraw %}"), "[{% if %}]");
}

TEST(JinjaLexer, BracesInsideExpressionsDoNotEndThem) {
  auto k = kinds("{{ {'a': {'b': 1}} }}");
  EXPECT_EQ(k.back().first, TokenKind::End);
  EXPECT_EQ(k[k.size() - 2].first, TokenKind::VariableEnd);
}

TEST(JinjaLexer, ErrorsNameLineAndColumn) {
  EXPECT_ERROR_WITH(tokenize("ok\n{{ a ? b }}", "tmpl.jinja"), "tmpl.jinja:2:", "column 6", "unexpected character '?'");
  EXPECT_ERROR_WITH(tokenize("x\n  {% if a", "t"), "t:2:", "column 3", "unclosed block tag");
  EXPECT_ERROR_WITH(tokenize("{{ 'abc }}", "t"), "column 4", "unterminated string");
  EXPECT_ERROR_WITH(tokenize("{# never closed", "t"), "unclosed comment");
  EXPECT_ERROR_WITH(tokenize("{% raw %} x", "t"), "never closed");
  EXPECT_ERROR_WITH(tokenize("{{ a) }}", "t"), "column 5", "unexpected ')'");
  EXPECT_ERROR_WITH(tokenize("{{ '\\x4' }}", "t"), "\\x escape");
  EXPECT_ERROR_WITH(tokenize("ok \xff", "t"), "invalid UTF-8");
}

}  // namespace
}  // namespace prefer::text::jinja
