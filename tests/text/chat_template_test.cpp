// The chat-template API: what a template sees, how templates are chosen from a model's files, errors.
#include <thread>

#include "test_util.h"
#include "text/chat_template.h"

namespace prefer::text {
namespace {

namespace fs = std::filesystem;
using OJson = nlohmann::ordered_json;

OJson conversation() {
  return OJson::parse(R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                          {"role": "assistant", "content": "Hello!"}])");
}

TEST(ChatTemplate, RendersTheFixtureChatML) {
  ChatTemplate t = load_chat_template(test::fixture("models/llama-tiny/tokenizer_config.json"), {});
  const std::string turns = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                            "<|im_start|>assistant\nHello!<|im_end|>\n";
  EXPECT_EQ(t.render(conversation()), turns);
  EXPECT_EQ(t.render(conversation(), {.add_generation_prompt = true}), turns + "<|im_start|>assistant\n");
  EXPECT_EQ(t.origin(), test::fixture("models/llama-tiny/tokenizer_config.json").string() + " (chat_template)");
  EXPECT_FALSE(t.has_tool_use_variant());
}

TEST(ChatTemplate, VariablesTheTemplateSees) {
  ChatTemplate t = ChatTemplate::parse(
      "{{ messages|length }}|{{ add_generation_prompt }}|{{ bos_token is defined }}|{{ eos_token }}|"
      "{{ tools is none }}|{{ documents is none }}|{{ enable_thinking }}|{{ date_string }}",
      "inline");
  EXPECT_EQ(t.render(conversation()), "3|False|False||True|True||");
  ChatRenderOptions o{.add_generation_prompt = true, .bos_token = "<s>", .eos_token = "</s>",
                      .tools = OJson::array(), .extra_context = {{"enable_thinking", false}, {"date_string", "26 Jul 2024"}}};
  EXPECT_EQ(t.render(conversation(), o), "3|True|True|</s>|False|True|False|26 Jul 2024");
}

TEST(ChatTemplate, KeyOrderOfInputsIsKept) {
  ChatTemplate t = ChatTemplate::parse("{% for tool in tools %}{{ tool|tojson }}{% endfor %}", "inline");
  OJson tools = OJson::parse(R"([{"type": "function", "function": {"name": "f", "parameters": {"zeta": 1, "alpha": 2}}}])");
  EXPECT_EQ(t.render(OJson::array(), {.tools = tools}),
            R"({"type": "function", "function": {"name": "f", "parameters": {"zeta": 1, "alpha": 2}}})");
}

TEST(ChatTemplate, ToolCallsReachTheTemplate) {
  ChatTemplate t = ChatTemplate::parse(
      "{% for m in messages %}{% for c in m.tool_calls %}{{ c.function.name }}({{ c.function.arguments|tojson }}) {% endfor %}"
      "{% endfor %}",
      "inline");
  OJson messages = OJson::parse(R"([{"role": "assistant", "content": "", "tool_calls": [
      {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich"}}},
      {"type": "function", "function": {"name": "search", "arguments": "{\"q\": 1}"}}]}])");
  EXPECT_EQ(t.render(messages), "get_weather({\"city\": \"Zürich\"}) search(\"{\\\"q\\\": 1}\") ");
}

TEST(ChatTemplate, StrftimeNowUsesTheClockOption) {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  ChatTemplate t = ChatTemplate::parse("{{ strftime_now('%Y-%m-%d') }}", "inline");
  EXPECT_EQ(t.render(OJson::array(), {.clock = [] { return std::time_t{0}; }}), "1970-01-01");
}

TEST(ChatTemplate, RaiseExceptionBecomesTheErrorMessage) {
  ChatTemplate t = ChatTemplate::parse(
      "{% for m in messages %}\n{% if m.role == 'system' %}\n{{ raise_exception('System role not supported') }}\n{% endif %}\n{% endfor %}",
      "model/tokenizer_config.json (chat_template)");
  try {
    t.render(conversation());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), "System role not supported");
    EXPECT_EQ(e.file(), "model/tokenizer_config.json (chat_template)");
    EXPECT_EQ(e.line(), 3);
    EXPECT_NE(std::string(e.what()).find("(hint: raised by the chat template's raise_exception() at column 4)"), std::string::npos)
        << e.what();
  }
}

TEST(ChatTemplate, BadInputs) {
  ChatTemplate t = ChatTemplate::parse("{{ messages }}", "inline");
  EXPECT_ERROR_WITH(t.render(OJson::object()), "messages must be a JSON array");
  EXPECT_ERROR_WITH(t.render(OJson::array(), {.tools = "x"}), "tools must be null or an array");
  EXPECT_ERROR_WITH(t.render(OJson::array(), {.extra_context = {{"messages", 1}}}), "extra_context must not set 'messages'");
  EXPECT_ERROR_WITH(t.render(OJson::array(), {.extra_context = OJson::array()}), "extra_context must be a JSON object");
  OJson bad = OJson::array({{{"role", "user"}, {"content", std::string("caf\xc3")}}});
  EXPECT_ERROR_WITH(t.render(bad), "'messages[0].content'", "invalid UTF-8");
  EXPECT_ERROR_WITH(ChatTemplate::parse("{% for m in messages %}\n{{ m.content | strip }}{% endfor %}", "tc.jinja"), "tc.jinja:2:",
                    "column 16", "unknown filter 'strip'");
}

TEST(ChatTemplate, RendersConcurrently) {
  ChatTemplate t = load_chat_template(test::fixture("models/llama-tiny/tokenizer_config.json"), {});
  std::string want = t.render(conversation(), {.add_generation_prompt = true});
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < 200; ++k) ok[i] += t.render(conversation(), {.add_generation_prompt = true}) == want;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok, (std::vector<int>(4, 200)));
}

// ---- choosing the template --------------------------------------------------------------------------

void write_config(const fs::path& p, const OJson& chat_template) {
  test::write_bytes(p, OJson{{"bos_token", "<s>"}, {"chat_template", chat_template}}.dump());
}

TEST(ChatTemplate, NamedTemplatesDefaultAndToolUse) {
  test::TempDir dir;
  write_config(dir / "tokenizer_config.json",
               OJson::parse(R"([{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"},
                                {"name": "rag", "template": "R"}])"));
  ChatTemplate t = load_chat_template(dir / "tokenizer_config.json", {});
  EXPECT_TRUE(t.has_tool_use_variant());
  EXPECT_EQ(t.render(OJson::array()), "D");
  EXPECT_EQ(t.render(OJson::array(), {.tools = OJson::array({OJson::object()})}), "T");  // transformers: tools is not None
  EXPECT_EQ(t.origin(), (dir / "tokenizer_config.json").string() + " (chat_template 'default')");
  ChatTemplate rag = load_chat_template(dir / "tokenizer_config.json", {}, "rag");
  EXPECT_EQ(rag.render(OJson::array(), {.tools = OJson::array()}), "R");  // an explicit name is used as is
  EXPECT_ERROR_WITH(load_chat_template(dir / "tokenizer_config.json", {}, "tool-use"), "no chat template named 'tool-use'",
                    "did you mean 'tool_use'?");
}

TEST(ChatTemplate, NamedTemplatesWithoutDefault) {
  test::TempDir dir;
  write_config(dir / "a.json", OJson::parse(R"([{"name": "tool_use", "template": "T"}])"));
  ChatTemplate t = load_chat_template(dir / "a.json", {});
  EXPECT_EQ(t.render(OJson::array(), {.tools = OJson::array()}), "T");
  EXPECT_ERROR_WITH(t.render(OJson::array()), "no 'default' one");
  write_config(dir / "b.json", OJson::parse(R"([{"name": "one", "template": "1"}, {"name": "two", "template": "2"}])"));
  EXPECT_ERROR_WITH(load_chat_template(dir / "b.json", {}), "none is named 'default'", "one, two");
  write_config(dir / "c.json", OJson::parse(R"([{"name": "x"}])"));
  EXPECT_ERROR_WITH(load_chat_template(dir / "c.json", {}), "chat_template[0].template", "missing");
  write_config(dir / "d.json", 5);
  EXPECT_ERROR_WITH(load_chat_template(dir / "d.json", {}), "expected a string or a list");
}

TEST(ChatTemplate, ChatTemplateJinjaWinsOverTheConfig) {
  test::TempDir dir;
  write_config(dir / "tokenizer_config.json", "from config");
  test::write_bytes(dir / "chat_template.jinja", "from jinja file\n");
  ChatTemplate t = load_chat_template(dir / "tokenizer_config.json", dir / "chat_template.jinja");
  EXPECT_EQ(t.render(OJson::array()), "from jinja file");  // Jinja drops one trailing newline
  EXPECT_EQ(t.origin(), (dir / "chat_template.jinja").string());
  // A missing .jinja path falls back to the config.
  EXPECT_EQ(load_chat_template(dir / "tokenizer_config.json", dir / "absent.jinja").render(OJson::array()), "from config");

  fs::create_directories(dir / "additional_chat_templates");
  test::write_bytes(dir / "additional_chat_templates" / "tool_use.jinja", "tools!");
  ChatTemplate both = load_chat_template({}, dir / "chat_template.jinja");
  EXPECT_EQ(both.render(OJson::array(), {.tools = OJson::array()}), "tools!");
  EXPECT_EQ(load_chat_template({}, dir / "chat_template.jinja", "tool_use").render(OJson::array()), "tools!");
  EXPECT_ERROR_WITH(load_chat_template({}, dir / "chat_template.jinja", "rag"), "no chat template named 'rag'");
}

TEST(ChatTemplate, NoTemplate) {
  test::TempDir dir;
  test::write_bytes(dir / "tokenizer_config.json", R"({"bos_token": "<s>"})");
  EXPECT_ERROR_WITH(load_chat_template(dir / "tokenizer_config.json", {}), "tokenizer_config.json", "has no chat template",
                    "hint: use a chat/instruct model");
  EXPECT_ERROR_WITH(load_chat_template({}, {}), "has no chat template");
  write_config(dir / "single.json", "X");
  EXPECT_ERROR_WITH(load_chat_template(dir / "single.json", {}, "tool_use"), "single template");
}

TEST(ChatTemplate, ParseErrorsNameTheConfigField) {
  test::TempDir dir;
  write_config(dir / "tokenizer_config.json", "{% for m in messages %}\n  {{ m.content }\n{% endfor %}");
  std::string where = (dir / "tokenizer_config.json").string() + " (chat_template):2:";
  EXPECT_ERROR_WITH(load_chat_template(dir / "tokenizer_config.json", {}), where.c_str(), "column 16", "unexpected '}'");
}

}  // namespace
}  // namespace prefer::text
