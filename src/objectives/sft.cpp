#include "objectives/sft.h"

#include <ATen/ATen.h>

#include <array>

#include "objectives/loss_math.h"
#include "objectives/option_names.h"
#include "util/error.h"

namespace prefer::objectives {

namespace {

constexpr std::array<OptionName<SftLossType>, 3> kSftLossNames{{
    {"nll", SftLossType::kNll},
    {"dft", SftLossType::kDft},
    {"chunked_nll", SftLossType::kNll},
}};

}  // namespace

SftLossType parse_sft_loss_type(std::string_view name) { return parse_option(name, kSftLossNames, "loss_type"); }

std::string to_string(SftLossType type) { return option_name(type, kSftLossNames); }

void SftConfig::validate() const {}

SftOutput sft_loss(const SftInputs& in, const SftConfig& cfg) {
  cfg.validate();
  check_matrix(in.token_logps, "token_logps");
  check_matrix(in.loss_mask, "loss_mask", in.token_logps.size(0), in.token_logps.size(1));
  const auto dtype = compute_dtype({in.token_logps});
  at::Tensor logp = to_compute(in.token_logps, dtype);
  at::Tensor keep = in.loss_mask.to(at::kBool);

  at::Tensor per_token = -logp;
  if (cfg.loss_type == SftLossType::kDft) per_token = per_token * at::exp(logp.detach());

  SftOutput out;
  out.loss_sum = at::where(keep, per_token, at::zeros({}, per_token.options())).sum();
  out.num_tokens = keep.sum();
  out.loss = out.loss_sum / out.num_tokens.clamp_min(1).to(dtype);
  out.metrics["num_tokens"] = out.num_tokens.to(dtype);
  return out;
}

at::Tensor sft_step_loss(const SftOutput& part, int64_t total_tokens) {
  if (total_tokens <= 0) throw Error("the optimizer step has no trained tokens", {.field = "total_tokens"});
  return part.loss_sum / static_cast<double>(total_tokens);
}

}  // namespace prefer::objectives
