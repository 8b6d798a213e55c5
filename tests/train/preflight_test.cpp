#include "train/preflight.h"

#include "test_util.h"

namespace prefer::train {

namespace {

PreflightInputs good() {
  return {.beta = 0.1, .num_pairs = 5000, .learning_rate = 5e-6, .max_length = 1024, .max_prompt_length = 512,
          .has_chat_template = true, .estimated_peak_bytes = 8'000'000'000, .available_bytes = 16'000'000'000};
}

bool has(const std::vector<TrainingWarning>& ws, const std::string& id) {
  for (const auto& w : ws)
    if (w.id == id) return true;
  return false;
}

}  // namespace

TEST(Preflight, HealthySettingsRaiseNothing) { EXPECT_TRUE(preflight_checks(good()).empty()); }

TEST(Preflight, SmallBetaWithFewPairs) {
  PreflightInputs in = good();
  in.beta = 0.05;
  in.num_pairs = 1500;
  auto ws = preflight_checks(in);
  ASSERT_EQ(ws.size(), 1u);
  EXPECT_EQ(ws[0].id, "beta_small_for_data_size");
  EXPECT_EQ(ws[0].step, 0);
  EXPECT_NE(ws[0].message.find("0.05"), std::string::npos);
  EXPECT_NE(ws[0].message.find("1500"), std::string::npos);
  in.num_pairs = 2000;  // enough pairs
  EXPECT_TRUE(preflight_checks(in).empty());
}

TEST(Preflight, LearningRateOutsideTheUsualRange) {
  PreflightInputs in = good();
  in.learning_rate = 5e-4;
  auto ws = preflight_checks(in);
  ASSERT_TRUE(has(ws, "learning_rate_out_of_range"));
  EXPECT_NE(ws[0].message.find("above"), std::string::npos);
  in.learning_rate = 1e-7;
  ws = preflight_checks(in);
  EXPECT_NE(ws[0].message.find("below"), std::string::npos);
  in.learning_rate = 1e-6;  // the bounds are inside
  EXPECT_TRUE(preflight_checks(in).empty());
  in.learning_rate = 1e-4;
  EXPECT_TRUE(preflight_checks(in).empty());
}

TEST(Preflight, PromptShareFarFromHalf) {
  PreflightInputs in = good();
  in.max_prompt_length = 900;  // 88%
  auto ws = preflight_checks(in);
  ASSERT_TRUE(has(ws, "prompt_length_share"));
  EXPECT_NE(ws[0].message.find("87.89%"), std::string::npos) << ws[0].message;  // 900 / 1024
  in.max_prompt_length = 128;  // 12.5%
  EXPECT_TRUE(has(preflight_checks(in), "prompt_length_share"));
  in.max_prompt_length = 256;  // exactly 0.25
  EXPECT_TRUE(preflight_checks(in).empty());
  in.max_prompt_length = 0;  // unset: not checked
  EXPECT_TRUE(preflight_checks(in).empty());
}

TEST(Preflight, NoChatTemplate) {
  PreflightInputs in = good();
  in.has_chat_template = false;
  auto ws = preflight_checks(in);
  ASSERT_EQ(ws.size(), 1u);
  EXPECT_EQ(ws[0].id, "no_chat_template");
  EXPECT_NE(ws[0].message.find("SFT"), std::string::npos);
}

TEST(Preflight, MemoryAboveWhatTheMachineHas) {
  PreflightInputs in = good();
  in.estimated_peak_bytes = 20'000'000'000;
  in.memory_breakdown = "weights 1.0 GB, total 20.0 GB";
  auto ws = preflight_checks(in);
  ASSERT_EQ(ws.size(), 1u);
  EXPECT_EQ(ws[0].id, "memory_above_available");
  EXPECT_NE(ws[0].message.find("20.0 GB"), std::string::npos) << ws[0].message;
  EXPECT_NE(ws[0].message.find("16.0 GB of RAM"), std::string::npos) << ws[0].message;
  EXPECT_EQ(ws[0].evidence["estimated_peak_bytes"], 20'000'000'000u);
}

}  // namespace prefer::train
