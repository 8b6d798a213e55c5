// Rendering: statements, scopes, loops, macros, namespaces, whitespace control and errors, with expected
// output worked out by hand from Jinja2's rules (transformers' settings: trim_blocks, lstrip_blocks).
#include <cstdlib>

#include "test_util.h"
#include "text/jinja_interpreter.h"
#include "text/jinja_parser.h"

namespace prefer::text::jinja {
namespace {

using OJson = nlohmann::ordered_json;

std::string render_str(const std::string& src, const char* ctx_json = "{}", RenderSettings settings = {}) {
  auto t = parse_template(src, "test.jinja");
  ValueDict vars;
  OJson ctx = OJson::parse(ctx_json);
  for (const auto& [k, v] : ctx.items()) vars.set(k, Value::from_json(v));
  return render(*t, vars, settings);
}

TEST(JinjaInterpreter, TextAndExpressions) {
  EXPECT_EQ(render_str("Hello {{ name }}!", R"({"name": "Ada"})"), "Hello Ada!");
  EXPECT_EQ(render_str("{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }}"), "7 3 -4 2 3.5 1024");
  EXPECT_EQ(render_str("{{ 1 + 1.5 }} {{ 4 / 2 }} {{ 10 - 0.25 }}"), "2.5 2.0 9.75");
  EXPECT_EQ(render_str("{{ 'a' ~ 1 ~ none ~ true ~ undefined_thing }}"), "a1NoneTrue");
  EXPECT_EQ(render_str("{{ 'ab' * 3 }} {{ [1] + [2] }} {{ 3 * '-' }}"), "ababab [1, 2] ---");
  EXPECT_EQ(render_str("{{ none }}|{{ true }}|{{ [1, 'x'] }}|{{ {'k': none} }}|{{ missing }}"), "None|True|[1, 'x']|{'k': None}|");
}

TEST(JinjaInterpreter, LogicReturnsOperands) {
  EXPECT_EQ(render_str("{{ 0 or 'y' }} {{ 'x' and 'y' }} {{ '' and 1 }}| {{ [] or none }} {{ not [] }}"), "y y | None True");
  EXPECT_EQ(render_str("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'b' in 'abc' }} {{ 'z' not in ['a'] }}"), "True False True True");
  EXPECT_EQ(render_str("{{ 'yes' if x else 'no' }} [{{ 'yes' if x }}]", R"({"x": 0})"), "no []");
}

TEST(JinjaInterpreter, IfElifElse) {
  const char* t = "{% if n > 10 %}big{% elif n > 5 %}mid{% elif n > 0 %}small{% else %}none{% endif %}";
  EXPECT_EQ(render_str(t, R"({"n": 11})"), "big");
  EXPECT_EQ(render_str(t, R"({"n": 6})"), "mid");
  EXPECT_EQ(render_str(t, R"({"n": 1})"), "small");
  EXPECT_EQ(render_str(t, R"({"n": 0})"), "none");
}

TEST(JinjaInterpreter, ForLoopVariables) {
  EXPECT_EQ(render_str("{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
                       "{{ loop.first|int }}{{ loop.last|int }}{{ loop.length }},{% endfor %}",
                       R"({"xs": ["a", "b", "c"]})"),
            "1032103,2121003,3210013,");
  EXPECT_EQ(render_str("{% for x in xs %}[{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }}]{% endfor %}", R"({"xs": [1, 2, 3]})"),
            "[<1>2][1<2>3][2<3>]");
  EXPECT_EQ(render_str("{% for x in xs %}{{ loop.cycle('odd', 'even') }} {% endfor %}", R"({"xs": [1, 2, 3]})"), "odd even odd ");
}

TEST(JinjaInterpreter, ForLoopFormsAndElse) {
  EXPECT_EQ(render_str("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", R"({"d": {"z": 1, "a": 2}})"), "z=1;a=2;");
  EXPECT_EQ(render_str("{% for k in d %}{{ k }}{% endfor %}", R"({"d": {"z": 1, "a": 2}})"), "za");
  EXPECT_EQ(render_str("{% for c in 'hé' %}[{{ c }}]{% endfor %}"), "[h][é]");
  EXPECT_EQ(render_str("{% for (a, b) in [(1, 2), (3, 4)] %}{{ a + b }}{% endfor %}"), "37");
  EXPECT_EQ(render_str("{% for x in xs if x is odd %}{{ x }}/{{ loop.length }} {% endfor %}", R"({"xs": [1, 2, 3, 4, 5]})"),
            "1/3 3/3 5/3 ");
  EXPECT_EQ(render_str("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render_str("{% for x in missing %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render_str("{% for x in messages[::-1] %}{{ x }}{% endfor %}", R"({"messages": [1, 2, 3]})"), "321");
}

TEST(JinjaInterpreter, BreakAndContinue) {
  EXPECT_EQ(render_str("{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}"),
            "0134");
  // As in Jinja2, `else` runs unless some iteration reached the end of the body.
  EXPECT_EQ(render_str("{% for i in [1, 2] %}{% continue %}{% else %}E{% endfor %}"), "E");
  EXPECT_EQ(render_str("{% for i in [1, 2] %}{% if i == 2 %}{% continue %}{% endif %}{% else %}E{% endfor %}"), "");
}

TEST(JinjaInterpreter, ScopesFollowJinja2) {
  // A set inside a loop is not seen after the loop, nor in the next iteration.
  EXPECT_EQ(render_str("{% set x = 5 %}{% for i in [1, 2] %}[{{ x }}]{% set x = i %}{% endfor %}{{ x }}"), "[5][5]5");
  // `if` has no scope of its own.
  EXPECT_EQ(render_str("{% if true %}{% set y = 1 %}{% endif %}{{ y }}"), "1");
  // namespace() carries state out of loops.
  EXPECT_EQ(render_str("{% set ns = namespace(total=0, seen=[]) %}{% for i in [1, 2, 3] %}{% set ns.total = ns.total + i %}"
                       "{% endfor %}{{ ns.total }}"),
            "6");
  EXPECT_EQ(render_str("{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}{% set ns.c = 3 %}{{ ns.c }}"), "123");
  // The loop variable does not leak.
  EXPECT_EQ(render_str("{% for i in [1] %}{% endfor %}[{{ i }}]"), "[]");
}

TEST(JinjaInterpreter, SetForms) {
  EXPECT_EQ(render_str("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = (3,) %}{{ t }}"), "12(3,)");
  EXPECT_EQ(render_str("{% set x %}  Hi {{ 1 + 1 }}  {% endset %}[{{ x }}]"), "[  Hi 2  ]");
  EXPECT_EQ(render_str("{% set x | trim | upper %}  hi  {% endset %}[{{ x }}]"), "[HI]");
  EXPECT_EQ(render_str("{% filter upper %}a{{ 'b' }}{% endfilter %}"), "AB");
}

TEST(JinjaInterpreter, Macros) {
  EXPECT_EQ(render_str("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}"
                       "{{ greet('Ada') }} {{ greet('Bob', '?') }} {{ greet(punct='.', name='Cy') }} [{{ greet() }}]"),
            "Hi Ada! Hi Bob? Hi Cy. [Hi !]");
  // Defaults are evaluated at call time and may use earlier parameters.
  EXPECT_EQ(render_str("{% macro m(a, b=a * 2) %}{{ a }},{{ b }}{% endmacro %}{{ m(3) }}"), "3,6");
  EXPECT_EQ(render_str("{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }}"), "1(2, 3){'k': 4}");
  // A macro sees the scope it was defined in; its own sets stay inside.
  EXPECT_EQ(render_str("{% set g = 'G' %}{% macro m() %}{% set g = 'L' %}{{ g }}{% endmacro %}{{ m() }}{{ g }}"), "LG");
  EXPECT_EQ(render_str("{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}{{ fact(5) }}"),
            "120");
  EXPECT_ERROR_WITH(render_str("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"), "macros nested too deeply");
  EXPECT_ERROR_WITH(render_str("{% macro f(a) %}{% endmacro %}{{ f(1, a=2) }}"), "multiple values for argument 'a'");
}

TEST(JinjaInterpreter, WhitespaceControlAsTransformers) {
  const char* t =
      "{%- for m in messages %}\n"
      "    {%- if m.role == 'user' %}\n"
      "        {{- 'U:' + m.content }}\n"
      "    {%- else %}\n"
      "        {{- ' A:' + m.content }}\n"
      "    {%- endif %}\n"
      "{%- endfor %}\n";
  EXPECT_EQ(render_str(t, R"({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})"),
            "U:hi A:yo");
  // Without `-`, trim_blocks eats the newline after a block tag and lstrip_blocks the indent before it.
  EXPECT_EQ(render_str("<ul>\n  {% for i in [1, 2] %}\n  <li>{{ i }}</li>\n  {% endfor %}\n</ul>\n"), "<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>");
  EXPECT_EQ(render_str("a {# note #} b"), "a  b");
}

TEST(JinjaInterpreter, UndefinedBehaviour) {
  EXPECT_EQ(render_str("[{{ nope }}][{{ nope.attr.deeper }}][{{ d.missing }}][{{ xs[9] }}]", R"({"d": {}, "xs": []})"), "[][][][]");
  EXPECT_EQ(render_str("{{ nope is defined }} {{ d.k is defined }} {{ nope|default('dflt') }} {{ nope|length }}", R"({"d": {"k": null}})"),
            "False True dflt 0");
  EXPECT_ERROR_WITH(render_str("{{ nope + 1 }}"), "test.jinja:1:", "column 9", "'nope' is undefined");
  EXPECT_ERROR_WITH(render_str("{{ d.missing.x + 1 }}", R"({"d": {}})"), "'dict object' has no attribute 'missing'");
  EXPECT_ERROR_WITH(render_str("{{ nope() }}"), "column 4", "'nope' is undefined");
  EXPECT_ERROR_WITH(render_str("{{ nope < 1 }}"), "'nope' is undefined");
}

TEST(JinjaInterpreter, RuntimeErrorsHaveLineAndColumn) {
  EXPECT_ERROR_WITH(render_str("line 1\n{{ 'a' + 1 }}"), "test.jinja:2:", "column 8", "unsupported operand type(s) for +: 'str' and 'int'");
  EXPECT_ERROR_WITH(render_str("{{ 1 // 0 }}"), "division or modulo by zero");
  EXPECT_ERROR_WITH(render_str("{{ 1 / 0 }}"), "division by zero");
  EXPECT_ERROR_WITH(render_str("{% set x = 1 %}{% set x.a = 2 %}"), "column 19", "cannot assign attribute on non-namespace object", "'x' is of type 'int'");
  EXPECT_ERROR_WITH(render_str("{% for a, b in [1] %}{% endfor %}"), "object is not iterable");
  EXPECT_ERROR_WITH(render_str("{% for a, b in [[1, 2, 3]] %}{% endfor %}"), "too many values to unpack (expected 2)");
  EXPECT_ERROR_WITH(render_str("{% for x in 5 %}{% endfor %}"), "'int' object is not iterable");
  EXPECT_ERROR_WITH(render_str("{{ 9223372036854775807 + 1 }}"), "integer overflow");
  EXPECT_ERROR_WITH(render_str("{{ 2 ** 64 }}"), "integer overflow");
  EXPECT_ERROR_WITH(render_str("{{ {1: 2} }}"), "dict keys must be strings");
  EXPECT_ERROR_WITH(render_str("{{ 'x' % 1 }}"), "string formatting");
  EXPECT_ERROR_WITH(render_str("{{ range(200000)|length }}"), "range too big");
  EXPECT_ERROR_WITH(render_str("{{ 'x' * 100000000 }}"), "too large");
  EXPECT_ERROR_WITH(render_str("\n\n   {{ [1]|join(', ')|tojson(bad=1) }}"), "test.jinja:3:", "column 22", "unexpected keyword argument 'bad'");
}

TEST(JinjaInterpreter, RaiseExceptionSurfacesTheTemplatesMessage) {
  try {
    render_str("{% if messages|length > 1 %}\n  {{ raise_exception('Only ' ~ 1 ~ ' message, please') }}\n{% endif %}",
               R"({"messages": [1, 2]})");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), "Only 1 message, please");
    EXPECT_EQ(e.file(), "test.jinja");
    EXPECT_EQ(e.line(), 2);
    EXPECT_NE(e.hint().find("raise_exception"), std::string::npos);
  }
}

TEST(JinjaInterpreter, StrftimeNowUsesTheClock) {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  RenderSettings s{.clock = [] { return std::time_t{1718000000}; }};  // 2024-06-10 06:13:20 UTC
  EXPECT_EQ(render_str("{{ strftime_now('%Y-%m-%d %H:%M') }}|{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%B') }}", "{}", s),
            "2024-06-10 06:13|10 Jun 2024|June");
  EXPECT_EQ(render_str("{{ date_string | default(strftime_now('%d %b %Y')) }}", R"({"date_string": "26 Jul 2024"})", s), "26 Jul 2024");
  EXPECT_EQ(render_str("{{ strftime_now('') }}", "{}", s), "");
}

TEST(JinjaInterpreter, SelfReferencesAndEscapingMacros) {
  // A namespace holding itself, and a macro defined in a loop iteration called after the loop: no
  // dangling scope, and (checked under AddressSanitizer) no leaked reference cycle.
  EXPECT_EQ(render_str("{% set ns = namespace() %}{% set ns.me = ns %}{% for i in [1, 2] %}"
                       "{% macro m() %}<{{ i }}>{% endmacro %}{% set ns.m = m %}{% endfor %}{{ ns.m() }}{{ ns.me.me.m() }}"),
            "<2><2>");
}

TEST(JinjaInterpreter, RangeAndDict) {
  EXPECT_EQ(render_str("{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ range(3, 0, -1)|list }}"), "[0, 1, 2] [1, 3, 5] [3, 2, 1]");
  EXPECT_EQ(render_str("{{ dict(a=1, b='x') }}"), "{'a': 1, 'b': 'x'}");
}

TEST(JinjaInterpreter, QwenStyleLastQueryIndex) {
  // The reverse scan Qwen3's template uses to find the last real user query.
  const char* t =
      "{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}"
      "{%- for message in messages[::-1] %}"
      "{%- set index = (messages|length - 1) - loop.index0 %}"
      "{%- if ns.multi_step_tool and message.role == 'user' and not(message.content.startswith('<tool_response>') "
      "and message.content.endswith('</tool_response>')) %}"
      "{%- set ns.multi_step_tool = false %}{%- set ns.last_query_index = index %}"
      "{%- endif %}{%- endfor %}{{ ns.last_query_index }}";
  EXPECT_EQ(render_str(t, R"({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"},
                                           {"role": "user", "content": "<tool_response>r</tool_response>"}]})"),
            "0");
}

TEST(JinjaInterpreter, RenderingIsRepeatableAndThreadSafeInput) {
  auto t = parse_template("{% set ns = namespace(n=0) %}{% for x in xs %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}", "t");
  ValueDict vars;
  vars.set("xs", Value::from_json(OJson::parse("[1, 2, 3]")));
  EXPECT_EQ(render(*t, vars), "6");
  EXPECT_EQ(render(*t, vars), "6");  // a render does not change the template or its inputs
}

}  // namespace
}  // namespace prefer::text::jinja
