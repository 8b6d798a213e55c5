#include "objectives/dpo_config.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace prefer::objectives {
namespace {

TEST(DpoConfig, ParsesTrlLossTypeNames) {
  EXPECT_EQ(parse_dpo_loss_type("sigmoid"), DpoLossType::kSigmoid);
  EXPECT_EQ(parse_dpo_loss_type("sigmoid_norm"), DpoLossType::kSigmoidNorm);
  EXPECT_EQ(parse_dpo_loss_type("aot_pair"), DpoLossType::kAotUnpaired);  // v0.28.0 alias
  EXPECT_EQ(to_string(DpoLossType::kAotUnpaired), "aot_unpaired");
  for (const char* name : {"sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot",
                           "aot_unpaired", "apo_zero", "apo_down", "discopop", "sft", "sigmoid_norm"})
    EXPECT_EQ(to_string(parse_dpo_loss_type(name)), name);
}

TEST(DpoConfig, UnknownNamesSuggestTheNearest) {
  EXPECT_ERROR_WITH(parse_dpo_loss_type("sigmod"), "'loss_type'", "unknown value 'sigmod'", "did you mean 'sigmoid'?");
  EXPECT_ERROR_WITH(parse_dpo_loss_type("ipo_pair"), "expected one of: sigmoid, hinge");
  EXPECT_ERROR_WITH(parse_f_divergence_type("js"), "'f_divergence_type'");
  EXPECT_ERROR_WITH(parse_f_divergence_type("forward_kI"), "did you mean 'forward_kl'?");
  EXPECT_ERROR_WITH(parse_trl_version("v0.27.0"), "'trl_version'", "did you mean 'v0.28.0'?");
  EXPECT_EQ(parse_trl_version("0.28"), TrlVersion::kV0_28);
  EXPECT_EQ(to_string(parse_trl_version("1.9")), "v1.9.0");
}

TEST(DpoConfig, DefaultsAreTrls) {
  DpoConfig cfg;
  EXPECT_EQ(cfg.beta, 0.1);
  EXPECT_EQ(cfg.loss_type, std::vector<DpoLossType>{DpoLossType::kSigmoid});
  EXPECT_EQ(cfg.label_smoothing, 0.0);
  EXPECT_EQ(cfg.f_divergence_type, FDivergenceType::kReverseKl);
  EXPECT_EQ(cfg.f_alpha_divergence_coef, 0.5);
  EXPECT_EQ(cfg.discopop_tau, 0.05);
  EXPECT_FALSE(cfg.use_weighting);
  EXPECT_FALSE(cfg.ld_alpha.has_value());
  EXPECT_EQ(cfg.trl_version, TrlVersion::kV1_9);
  EXPECT_NO_THROW(cfg.validate());
}

TEST(DpoConfig, RpoAlphaBecomesAWeightedSftTerm) {
  DpoConfig cfg{.loss_type = {DpoLossType::kIpo, DpoLossType::kHinge}, .loss_weights = {0.5, 2.0}, .rpo_alpha = 0.3};
  auto terms = cfg.terms();
  ASSERT_EQ(terms.size(), 3u);
  EXPECT_EQ(terms[0], std::make_pair(DpoLossType::kIpo, 0.5));
  EXPECT_EQ(terms[1], std::make_pair(DpoLossType::kHinge, 2.0));
  EXPECT_EQ(terms[2], std::make_pair(DpoLossType::kSft, 0.3));
  EXPECT_TRUE(cfg.needs_nll());
  EXPECT_TRUE(cfg.needs_lengths());
}

TEST(DpoConfig, ValidateNamesTheOption) {
  auto check = [](DpoConfig cfg, const char* field, const char* words) {
    EXPECT_ERROR_WITH(cfg.validate(), field, words);
  };
  check(DpoConfig{.beta = 0.0}, "'beta'", "positive");
  check(DpoConfig{.loss_type = {}}, "'loss_type'", "at least one");
  check(DpoConfig{.loss_weights = {1.0, 2.0}}, "'loss_weights'", "one weight per loss type (1), got 2");
  check(DpoConfig{.label_smoothing = 0.5}, "'label_smoothing'", "[0, 0.5)");
  check(DpoConfig{.loss_type = {DpoLossType::kExoPair}}, "'label_smoothing'", "greater than 0");
  check(DpoConfig{.loss_type = {DpoLossType::kAot}, .use_weighting = true}, "'use_weighting'", "aot");
  check(DpoConfig{.ld_alpha = 1.5}, "'ld_alpha'", "[0, 1]");
  check(DpoConfig{.f_alpha_divergence_coef = -1.0}, "'f_alpha_divergence_coef'", "positive");
  check(DpoConfig{.discopop_tau = 0.0}, "'discopop_tau'", "positive");
  check(DpoConfig{.rpo_alpha = -1.0}, "'rpo_alpha'", "non-negative");
  check(DpoConfig{.f_divergence_type = FDivergenceType::kJsDivergence, .trl_version = TrlVersion::kV0_28},
        "'f_divergence_type'", "v0.28.0");
  check(DpoConfig{.loss_type = {DpoLossType::kSigmoidNorm}, .trl_version = TrlVersion::kV0_28}, "'loss_type'",
        "sigmoid_norm");
  // v0.28.0 replaces ε = 0 by 1e-3 for exo_pair instead of failing.
  EXPECT_NO_THROW((DpoConfig{.loss_type = {DpoLossType::kExoPair}, .trl_version = TrlVersion::kV0_28}.validate()));
}

}  // namespace
}  // namespace prefer::objectives
