#include "cli/option_set.h"

#include "test_util.h"

namespace prefer::cli {

namespace {
OptionSet options() {
  OptionSet s;
  s.add("beta", OptType::Float, 0.1, "");
  s.add("max_steps", OptType::Int, -1, "");
  s.add("use_peft", OptType::Bool, false, "");
  s.add("loss_type", OptType::StringList, Json::array({"sigmoid"}), "");
  s.add("loss_weights", OptType::FloatList, nullptr, "");
  s.add("output_dir", OptType::String, nullptr, "");
  return s;
}
Json parse(OptionSet& s, std::vector<std::string> args, const Json& yaml = nullptr) {
  CLI::App app;
  s.register_cli(&app);
  std::vector<std::string> rev(args.rbegin(), args.rend());
  app.parse(rev);
  return s.resolve(yaml, "run.yaml");  // while `app` (which owns the parsed options) is alive
}
}  // namespace

TEST(OptionSet, DefaultsThenYamlThenFlags) {
  OptionSet s = options();
  Json r = parse(s, {"--beta", "0.2", "--use_peft", "--loss_type", "sigmoid,sft"},
                 {{"beta", 0.5}, {"max_steps", 10}, {"loss_weights", {1.0, 0.5}}});
  EXPECT_DOUBLE_EQ(r["beta"].get<double>(), 0.2);  // the flag wins over the file
  EXPECT_EQ(r["max_steps"], 10);                    // the file wins over the default
  EXPECT_EQ(r["use_peft"], true);
  EXPECT_EQ(r["loss_type"], Json({"sigmoid", "sft"}));
  EXPECT_EQ(r["loss_weights"], Json({1.0, 0.5}));
  EXPECT_TRUE(r["output_dir"].is_null());
  OptionSet t = options();
  EXPECT_EQ(parse(t, {"--use_peft", "false", "--loss_type", "ipo", "sft"})["use_peft"], false);
}

TEST(OptionSet, UnknownYamlKeySuggestsTheNearestName) {
  OptionSet s = options();
  EXPECT_ERROR_WITH(parse(s, {}, {{"bta", 0.1}}), "run.yaml", "'bta'", "unknown option", "did you mean 'beta'?");
  OptionSet t = options();
  EXPECT_ERROR_WITH(parse(t, {}, {{"max_steps", "many"}}), "run.yaml", "'max_steps'", "expected an integer");
  OptionSet u = options();
  EXPECT_ERROR_WITH(parse(u, {"--beta", "high"}), "'beta'", "expected a number");
}

}  // namespace prefer::cli
