#include "objectives/loss_math.h"

#include <ATen/ATen.h>

#include "util/error.h"

namespace prefer::objectives {

namespace {

std::string shape_of(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

}  // namespace

at::ScalarType compute_dtype(std::initializer_list<at::Tensor> inputs) {
  for (const auto& t : inputs)
    if (t.defined() && t.scalar_type() == at::kDouble) return at::kDouble;
  return at::kFloat;
}

at::Tensor to_compute(const at::Tensor& t, at::ScalarType dtype) {
  if (!t.defined() || t.scalar_type() == dtype) return t;
  return t.to(dtype);
}

void check_vector(const at::Tensor& t, const std::string& name, int64_t size) {
  if (!t.defined()) throw Error("input is missing", {.field = name});
  if (t.dim() != 1) throw Error("expected a 1-D tensor [batch], got shape " + shape_of(t), {.field = name});
  if (size >= 0 && t.size(0) != size)
    throw Error("expected " + std::to_string(size) + " entries (the batch size), got " + std::to_string(t.size(0)),
                {.field = name});
}

void check_scalar(const at::Tensor& t, const std::string& name) {
  if (!t.defined()) throw Error("input is missing", {.field = name});
  if (t.numel() != 1 || t.dim() > 1) throw Error("expected a scalar tensor, got shape " + shape_of(t), {.field = name});
}

void check_matrix(const at::Tensor& t, const std::string& name, int64_t rows, int64_t cols) {
  if (!t.defined()) throw Error("input is missing", {.field = name});
  if (t.dim() != 2) throw Error("expected a 2-D tensor [batch, tokens], got shape " + shape_of(t), {.field = name});
  if ((rows >= 0 && t.size(0) != rows) || (cols >= 0 && t.size(1) != cols))
    throw Error("expected shape [" + (rows >= 0 ? std::to_string(rows) : std::string("*")) + ", " +
                    (cols >= 0 ? std::to_string(cols) : std::string("*")) + "], got " + shape_of(t),
                {.field = name});
}

void require_input(const at::Tensor& t, const std::string& name, const std::string& why) {
  if (!t.defined()) throw Error(why, {.field = name});
}

at::Tensor smoothed_logistic_loss(const at::Tensor& z, double eps) {
  at::Tensor loss = -at::log_sigmoid(z);
  if (eps == 0.0) return loss;  // keeps the graph (and the value) identical to the plain logistic loss
  return loss * (1.0 - eps) - at::log_sigmoid(-z) * eps;
}

at::Tensor masked_mean(const at::Tensor& values, const at::Tensor& mask) {
  // where() rather than values * mask: padding may hold inf or NaN (e.g. -inf log-probs), and 0 * inf is NaN.
  at::Tensor keep = mask.to(at::kBool);
  return at::where(keep, values, at::zeros({}, values.options())).sum() / keep.sum().to(values.scalar_type());
}

at::Tensor metric_mean(const at::Tensor& t) { return t.detach().mean(); }

void add_pair_metrics(Metrics& m, const at::Tensor& chosen_rewards, const at::Tensor& rejected_rewards,
                      const at::Tensor& chosen_logps, const at::Tensor& rejected_logps) {
  m["rewards/chosen"] = metric_mean(chosen_rewards);
  m["rewards/rejected"] = metric_mean(rejected_rewards);
  m["rewards/accuracies"] = metric_mean((chosen_rewards > rejected_rewards).to(chosen_rewards.scalar_type()));
  m["rewards/margins"] = metric_mean(chosen_rewards - rejected_rewards);
  m["logps/chosen"] = metric_mean(chosen_logps);
  m["logps/rejected"] = metric_mean(rejected_logps);
}

}  // namespace prefer::objectives
