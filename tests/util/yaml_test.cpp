#include "util/yaml.h"

#include <cmath>

#include "test_util.h"

namespace prefer {

TEST(Yaml, PlainScalarsAreTypedQuotedStayStrings) {
  Json j = parse_yaml(
      "beta: 0.1\nlearning_rate: 5e-7\nmax_steps: 100\nbf16: true\nref_model: null\nname: run-1\n"
      "quoted: \"123\"\nsingle: 'true'\nloss_type: [sigmoid, sft]\nnested:\n  r: 16\n  mods:\n    - q_proj\n    - v_proj\n"
      "neg: -3\ninf: .inf\ntilde: ~\n");
  EXPECT_DOUBLE_EQ(j["beta"].get<double>(), 0.1);
  EXPECT_DOUBLE_EQ(j["learning_rate"].get<double>(), 5e-7);
  EXPECT_TRUE(j["max_steps"].is_number_integer());
  EXPECT_EQ(j["max_steps"], 100);
  EXPECT_EQ(j["bf16"], true);
  EXPECT_TRUE(j["ref_model"].is_null());
  EXPECT_TRUE(j["tilde"].is_null());
  EXPECT_EQ(j["name"], "run-1");
  EXPECT_EQ(j["quoted"], "123");
  EXPECT_EQ(j["single"], "true");
  EXPECT_EQ(j["loss_type"], Json({"sigmoid", "sft"}));
  EXPECT_EQ(j["nested"]["r"], 16);
  EXPECT_EQ(j["nested"]["mods"][1], "v_proj");
  EXPECT_EQ(j["neg"], -3);
  EXPECT_TRUE(std::isinf(j["inf"].get<double>()));
}

TEST(Yaml, SyntaxErrorsNameFileAndLine) {
  EXPECT_ERROR_WITH(parse_yaml("a: 1\nb: [1, 2\nc: 3\n", {.file = "run.yaml"}), "run.yaml:", "invalid YAML");
  EXPECT_ERROR_WITH(parse_yaml("beta: 0.1\nbeta: 0.2\n", {.file = "run.yaml"}), "run.yaml:2", "'beta'", "twice");
}

TEST(Yaml, WriteThenReadGivesTheSameValue) {
  test::TempDir tmp;
  Json v = {{"beta", 0.1},           {"learning_rate", 5e-07}, {"loss_type", {"sigmoid", "sft"}},
            {"output_dir", "runs/a"}, {"ref_model", nullptr},   {"tricky", "yes: no # not a comment"},
            {"num", "42"},            {"empty", ""},            {"lora", {{"r", 16}, {"targets", Json::array()}}},
            {"flag", false}};
  write_yaml_file(tmp / "c.yaml", v);
  EXPECT_EQ(read_yaml_file(tmp / "c.yaml"), v);
}

}  // namespace prefer
