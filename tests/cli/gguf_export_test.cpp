// `prefer export --format gguf` on the fixtures, run by the real llama.cpp (tools/llama/greedy.mjs):
// greedy continuations equal the fixtures' float64 reference ids; the file's vocabulary tokenizes text
// as prefer's tokenizer does; @huggingface/gguf reads the metadata.
#include "cli/adapter_files.h"
#include "cli/cli_run.h"
#include "llama_cpp_reference.h"
#include "safetensors_fixture.h"
#include "test_util.h"
#include "text/tokenizer.h"
#include "util/json.h"

namespace prefer {
namespace fs = std::filesystem;

namespace {

// The fixture's sequences and their 12 reference greedy ids (float64 reference, README of the fixtures).
std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> fixture_cases(const std::string& model) {
  const Json c = read_json_file(test::fixture("models/" + model + "/case.json"));
  const auto greedy = test::fixture_int_matrix("models/" + model + "/expected.safetensors", "greedy_ids");
  std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> out;
  for (size_t b = 0; b < c["sequences"].size(); ++b) out.emplace_back(c["sequences"][b]["ids"].get<std::vector<int64_t>>(), greedy.at(b));
  return out;
}

}  // namespace

TEST(GgufE2E, LlamaCppContinuesTheFixturesAsTheReferenceDoes) {
  ASSERT_TRUE(test::llama_cpp_installed()) << "node-llama-cpp: run scripts/setup.sh (npm ci in tools/llama)";
  test::TempDir tmp;
  const std::vector<std::string> models = {"llama-tiny", "qwen2-tiny"}, types = {"f32", "f16"};
  const std::vector<std::string> texts = {"Hello world, it's 2024!", " the  sky\nis blue"};
  Json req = {{"runs", Json::array()}};
  for (const std::string& model : models)
    for (const std::string& type : types) {
      const fs::path file = tmp / (model + "-" + type + ".gguf");
      auto r = test::run_prefer("export --threads 1 --model " + test::fixture("models/" + model).string() + " --format gguf --outtype " + type +
                                " --output " + file.string());
      ASSERT_EQ(r.exit_code, 0) << r.output;
      Json run = {{"model", file.string()}, {"cases", Json::array()}, {"texts", texts}};
      for (const auto& [ids, want] : fixture_cases(model)) run["cases"].push_back({{"ids", ids}, {"n", 12}});
      req["runs"].push_back(run);
    }
  const Json got = test::run_llama_cpp(req, tmp.path());
  ASSERT_EQ(got["runs"].size(), models.size() * types.size());
  for (size_t m = 0; m < models.size(); ++m)
    for (size_t t = 0; t < types.size(); ++t) {
      SCOPED_TRACE(models[m] + " " + types[t]);
      const Json& run = got["runs"][m * types.size() + t];
      const auto cases = fixture_cases(models[m]);
      ASSERT_EQ(run["cases"].size(), cases.size());
      for (size_t b = 0; b < cases.size(); ++b) EXPECT_EQ(run["cases"][b]["tokens"].get<std::vector<int64_t>>(), cases[b].second) << b;
      // The vocabulary in the file splits and merges text as the tokenizer.json does.
      const text::Tokenizer tok = text::Tokenizer::from_folder(test::fixture("models/" + models[m]));
      for (size_t k = 0; k < texts.size(); ++k) {
        std::vector<int64_t> want;
        for (int32_t id : tok.encode(texts[k], false)) want.push_back(id);
        EXPECT_EQ(run["tokenized"][k].get<std::vector<int64_t>>(), want) << texts[k];
      }
      const Json& md = run["metadata"];
      EXPECT_EQ(md["general.architecture"], models[m] == "llama-tiny" ? "llama" : "qwen2");
      EXPECT_EQ(md["tokenizer.ggml.model"], "gpt2");
      EXPECT_EQ(md["tokenizer.ggml.pre"], "gpt-2");
      EXPECT_EQ(md["tokenizer.ggml.tokens"]["length"], 320);
      EXPECT_EQ(md["tokenizer.ggml.bos_token_id"], 1);
      EXPECT_EQ(md["tokenizer.ggml.eos_token_id"], 4);  // tokenizer_config.json's eos_token, <|im_end|>, as llama.cpp's converter takes it
    }
  // Bad input: an unknown outtype names the option, and nothing is written.
  auto r = test::run_prefer("export --model " + test::fixture("models/llama-tiny").string() + " --format gguf --outtype q5_k --output " +
                            (tmp / "x.gguf").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("outtype"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "x.gguf"));
}

TEST(GgufE2E, ALoraAdapterAppliedByLlamaCppEqualsTheMergedExport) {
  ASSERT_TRUE(test::llama_cpp_installed()) << "node-llama-cpp: run scripts/setup.sh (npm ci in tools/llama)";
  test::TempDir tmp;
  const fs::path base = test::fixture("models/llama-tiny");
  auto run = [&](const std::string& args) {
    auto r = test::run_prefer("export --threads 1 " + args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
  };
  run("--model " + base.string() + " --format gguf --outtype f32 --output " + (tmp / "base.gguf").string());
  // q/k adapters (their B rows take llama's rope permutation), and rsLoRA's alpha / sqrt(r) scale.
  const std::vector<model::LoraConfig> configs = {
      {.r = 4, .lora_alpha = 8, .target_modules = {"q_proj", "k_proj", "v_proj", "down_proj"}, .base_model_name_or_path = base.string()},
      {.r = 4, .lora_alpha = 3, .target_modules = {"all-linear"}, .use_rslora = true, .base_model_name_or_path = base.string()}};
  Json req = {{"runs", Json::array()}};
  const auto cases = fixture_cases("llama-tiny");
  Json c = Json::array();
  for (const auto& [ids, want] : cases) c.push_back({{"ids", ids}, {"n", 12}});
  for (size_t i = 0; i < configs.size(); ++i) {
    const fs::path a = tmp / ("adapter" + std::to_string(i));
    test::write_random_adapter(base, a, configs[i], 10 + i);
    run("--model " + a.string() + " --format gguf-lora --output " + (tmp / ("lora" + std::to_string(i) + ".gguf")).string());
    run("--model " + a.string() + " --format gguf --outtype f32 --output " + (tmp / ("merged" + std::to_string(i) + ".gguf")).string());
    req["runs"].push_back({{"model", (tmp / "base.gguf").string()}, {"lora", (tmp / ("lora" + std::to_string(i) + ".gguf")).string()}, {"cases", c}});
    req["runs"].push_back({{"model", (tmp / ("merged" + std::to_string(i) + ".gguf")).string()}, {"cases", c}});
  }
  const Json got = test::run_llama_cpp(req, tmp.path());
  ASSERT_EQ(got["runs"].size(), 2 * configs.size());
  for (size_t i = 0; i < configs.size(); ++i) {
    SCOPED_TRACE(i);
    const Json& lora = got["runs"][2 * i];
    bool changed = false;
    for (size_t b = 0; b < cases.size(); ++b) {
      const std::vector<int64_t> with_lora = lora["cases"][b]["tokens"], merged = got["runs"][2 * i + 1]["cases"][b]["tokens"];
      EXPECT_EQ(with_lora, merged) << b;
      changed = changed || with_lora != cases[b].second;
    }
    EXPECT_TRUE(changed) << "the adapter should change some continuation of the base";
  }
  auto r = test::run_prefer("export --model " + base.string() + " --format gguf-lora --output " + (tmp / "x.gguf").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("adapter"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "x.gguf"));
}

}  // namespace prefer
