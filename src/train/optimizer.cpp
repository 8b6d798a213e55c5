#include "train/optimizer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "model/intra_op.h"
#include "train/state_file.h"
#include "util/error.h"

namespace prefer::train {
namespace fs = std::filesystem;

namespace {

bool needs_master(const at::Tensor& p) {
  return p.scalar_type() == at::kBFloat16 || p.scalar_type() == at::kHalf;
}

at::ScalarType state_dtype(const at::Tensor& p) {
  return p.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

std::string shape_string(at::IntArrayRef s) {
  std::ostringstream o;
  o << s;
  return o.str();
}

std::vector<int64_t> parse_counts(const std::string& text, const fs::path& path) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      size_t used = 0;
      out.push_back(std::stoll(item, &used));
      if (used != item.size() || out.back() < 0) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw Error("malformed entry '" + item + "'", {.file = path.string(), .field = "param_steps"});
    }
  }
  return out;
}

struct Coeffs {
  double decay;          // 1 - lr * weight_decay
  double beta1, beta2;
  double bc2_sqrt;       // sqrt(1 - beta2^t)
  double eps;
  double step_size;      // lr / (1 - beta1^t)
  bool has_decay;
};

// One pass over a parameter: decoupled decay, both moments, the bias-corrected update and, for a
// bf16/f16 parameter, rounding the float32 master into it. The formula is the op-by-op form's
// (w.mul_, exp_avg.lerp_, exp_avg_sq.mul_.addcmul_, sqrt / bc2 + eps, addcdiv_), in the same order and
// precision, element by element (ATen's vectorised kernels may differ in the last bit: a test pins a
// few ulps); the memory traffic is one read and one write of each tensor instead of about nine passes,
// which made the optimizer a quarter of a full fine-tuning step.
// Branch-free inner loop over [begin, end), so the compiler vectorises it; built for AVX2 and for the
// baseline x86-64 target, picked at load time (no FMA: the rounding stays the op-by-op form's).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define PREFER_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PREFER_VECTOR_CLONES
#endif
template <class S, class G>
PREFER_VECTOR_CLONES void update_range(S* __restrict w, S* __restrict m, S* __restrict v, const G* __restrict g, int64_t begin,
                                       int64_t end, S decay, S w1, S one_minus_w1, bool lerp_low, S b2, S w2, S bc2, S eps,
                                       S neg_step) {
  if (lerp_low) {
    for (int64_t i = begin; i < end; ++i) {
      const S gi = static_cast<S>(g[i]);
      const S mi = m[i] + w1 * (gi - m[i]);
      const S vi = v[i] * b2 + w2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      w[i] = w[i] * decay + neg_step * mi / (std::sqrt(vi) / bc2 + eps);
    }
  } else {
    for (int64_t i = begin; i < end; ++i) {
      const S gi = static_cast<S>(g[i]);
      const S mi = gi - (gi - m[i]) * one_minus_w1;
      const S vi = v[i] * b2 + w2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      w[i] = w[i] * decay + neg_step * mi / (std::sqrt(vi) / bc2 + eps);
    }
  }
}

// One pass over a parameter: decoupled decay, both moments and the bias-corrected update, then (for a
// bf16/f16 parameter) one vectorised rounding of the float32 master into it. The formula is the
// op-by-op form's (w.mul_, exp_avg.lerp_, exp_avg_sq.mul_.addcmul_, sqrt / bc2 + eps, addcdiv_), in the
// same order and precision (ATen's vectorised kernels may differ in the last bit: a test pins a few
// ulps); decay 1 multiplies exactly. About nine passes over the state tensors become one, which made
// the optimizer a quarter of a full fine-tuning step.
template <class S, class G>
void fused_update(S* w, S* m, S* v, const G* g, int64_t n, const Coeffs& c) {
  const S decay = c.has_decay ? static_cast<S>(c.decay) : S(1);
  const S w1 = static_cast<S>(1 - c.beta1);
  at::parallel_for(0, n, 1 << 16, [&](int64_t begin, int64_t end) {
    update_range<S, G>(w, m, v, g, begin, end, decay, w1, S(1) - w1, w1 < S(0.5), static_cast<S>(c.beta2),
                       static_cast<S>(1 - c.beta2), static_cast<S>(c.bc2_sqrt), static_cast<S>(c.eps),
                       static_cast<S>(-c.step_size));
  });
}

// Runs fused_update when every tensor is contiguous and the dtypes are ones it knows; false otherwise.
bool try_fused(const at::Tensor& w, const at::Tensor& m, const at::Tensor& v, const at::Tensor& grad, const at::Tensor& param,
               bool master, const Coeffs& c) {
  if (!w.is_cpu() || !w.is_contiguous() || !m.is_contiguous() || !v.is_contiguous()) return false;
  // A weight gradient formed as the transpose of a product may be strided: one copy, then one pass.
  const at::Tensor g = grad.is_contiguous() ? grad : grad.contiguous();
  if (master && !param.is_contiguous()) return false;
  const int64_t n = w.numel();
  if (w.scalar_type() == at::kDouble && g.scalar_type() == at::kDouble && !master) {
    fused_update<double, double>(w.data_ptr<double>(), m.data_ptr<double>(), v.data_ptr<double>(), g.data_ptr<double>(), n, c);
    return true;
  }
  if (w.scalar_type() != at::kFloat) return false;
  float *pw = w.data_ptr<float>(), *pm = m.data_ptr<float>(), *pv = v.data_ptr<float>();
  if (g.scalar_type() == at::kFloat) fused_update<float, float>(pw, pm, pv, g.data_ptr<float>(), n, c);
  else if (g.scalar_type() == at::kBFloat16) fused_update<float, at::BFloat16>(pw, pm, pv, g.data_ptr<at::BFloat16>(), n, c);
  else return false;
  if (master) param.copy_(w);  // round to the parameter's dtype
  return true;
}

}  // namespace

bool decays(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  const bool bias = lower.size() >= 4 && lower.compare(lower.size() - 4, 4, "bias") == 0;
  return !bias && lower.find("norm") == std::string::npos;
}

std::vector<ParamGroup> weight_decay_groups(const std::vector<NamedParam>& params, double weight_decay) {
  std::vector<ParamGroup> groups(2);
  groups[0].weight_decay = weight_decay;
  groups[1].weight_decay = 0.0;
  for (const NamedParam& p : params) groups[decays(p.name) ? 0 : 1].params.push_back(p.param);
  return groups;
}

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions options) : options_(options) {
  auto bad = [](const std::string& field, const std::string& msg, std::string hint = "") {
    return Error(msg, {.field = field, .hint = std::move(hint)});
  };
  if (!(options_.beta1 >= 0 && options_.beta1 < 1)) throw bad("adam_beta1", "must lie in [0, 1)");
  if (!(options_.beta2 >= 0 && options_.beta2 < 1)) throw bad("adam_beta2", "must lie in [0, 1)");
  if (!(options_.eps >= 0)) throw bad("adam_epsilon", "must be >= 0");
  std::set<const void*> seen;
  for (const ParamGroup& g : groups) {
    if (!(g.weight_decay >= 0)) throw bad("weight_decay", "must be >= 0");
    for (const at::Tensor& p : g.params) {
      const std::string where = "parameter " + std::to_string(slots_.size());
      if (!p.defined()) throw bad(where, "is an undefined tensor");
      if (!p.requires_grad())
        throw bad(where, "does not require grad", "pass only trainable parameters to the optimizer");
      if (!at::isFloatingType(p.scalar_type()))
        throw bad(where, std::string("has dtype ") + c10::toString(p.scalar_type()) + ", expected a floating type");
      if (!seen.insert(p.unsafeGetTensorImpl()).second) throw bad(where, "appears twice in the parameter groups");
      slots_.push_back({.param = p, .weight_decay = g.weight_decay});
    }
  }
}

AdamW::AdamW(std::vector<at::Tensor> params, AdamWOptions options)
    : AdamW(std::vector<ParamGroup>{{.params = std::move(params), .weight_decay = options.weight_decay}}, options) {}

void AdamW::zero_grad() {
  for (Slot& s : slots_) s.param.mutable_grad().reset();
}

void AdamW::init_state(Slot& slot) const {
  const at::Tensor& p = slot.param;
  const auto opts = p.options().dtype(state_dtype(p)).requires_grad(false);
  slot.state.exp_avg = at::zeros(p.sizes(), opts);
  slot.state.exp_avg_sq = at::zeros(p.sizes(), opts);
  if (needs_master(p) && !slot.state.master.defined()) slot.state.master = p.detach().to(at::kFloat, /*non_blocking=*/false, /*copy=*/true);
}

void start_masters(AdamW& optimizer, std::vector<NamedParam>& params) {
  for (NamedParam& p : params)
    if (p.initial_master.defined()) optimizer.start_master_from(p.param, std::move(p.initial_master));
}

void AdamW::start_master_from(const at::Tensor& param, at::Tensor value) {
  for (Slot& s : slots_) {
    if (!s.param.is_same(param)) continue;
    if (!needs_master(param)) throw Error("a " + std::string(c10::toString(param.scalar_type())) + " parameter has no master copy", {.field = "parameter"});
    if (s.state.step != 0) throw Error("the parameter has been updated already; its master cannot be replaced", {.field = "parameter"});
    if (!value.sizes().equals(param.sizes()))
      throw Error("a master of shape " + shape_string(value.sizes()) + " for a parameter of shape " + shape_string(param.sizes()), {.field = "parameter"});
    s.state.master = value.to(param.device(), at::kFloat).contiguous();
    return;
  }
  throw Error("not a parameter of this optimizer", {.field = "parameter"});
}

void AdamW::step(double lr) {
  at::NoGradGuard no_grad;
  const double beta1 = options_.beta1, beta2 = options_.beta2;
  for (Slot& s : slots_) {
    const at::Tensor& grad = s.param.grad();
    if (!grad.defined()) continue;
    if (grad.is_sparse()) throw Error("sparse gradients are not supported", {.field = "parameter"});
    ParamState& st = s.state;
    if (st.step == 0) init_state(s);
    st.step += 1;
    // The tensor the update runs on: the fp32 master, or the parameter itself (fp32/fp64).
    at::Tensor w = st.master.defined() ? st.master : s.param.detach();
    const auto t = static_cast<double>(st.step);
    const double bias_correction1 = 1 - std::pow(beta1, t);
    const double bias_correction2 = 1 - std::pow(beta2, t);
    const double step_size = lr / bias_correction1;
    const double bias_correction2_sqrt = std::sqrt(bias_correction2);
    const Coeffs c{1 - lr * s.weight_decay, beta1, beta2, bias_correction2_sqrt, options_.eps, step_size, s.weight_decay != 0};
    if (try_fused(w, st.exp_avg, st.exp_avg_sq, grad, s.param.detach(), st.master.defined(), c)) continue;

    // Op by op (non-contiguous tensors, other devices), as torch.optim.AdamW's single-tensor form.
    const at::Tensor g = grad.to(st.exp_avg.scalar_type());  // no copy when the dtypes agree
    if (s.weight_decay != 0) w.mul_(1 - lr * s.weight_decay);
    st.exp_avg.lerp_(g, 1 - beta1);
    st.exp_avg_sq.mul_(beta2).addcmul_(g, g, 1 - beta2);
    const at::Tensor denom = (st.exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(options_.eps);
    w.addcdiv_(st.exp_avg, denom, -step_size);

    if (st.master.defined()) s.param.detach().copy_(st.master);  // round to the parameter's dtype
  }
  ++steps_;
}

int64_t AdamW::state_bytes() const {
  int64_t n = 0;
  for (const Slot& s : slots_)
    for (const at::Tensor* t : {&s.state.exp_avg, &s.state.exp_avg_sq, &s.state.master})
      if (t->defined()) n += t->numel() * static_cast<int64_t>(t->element_size());
  return n;
}

void AdamW::save(const fs::path& path) const {
  std::map<std::string, at::Tensor> tensors;
  std::string counts;
  for (size_t i = 0; i < slots_.size(); ++i) {
    const ParamState& st = slots_[i].state;
    if (i > 0) counts += ',';
    counts += std::to_string(st.step);
    if (st.step == 0) continue;
    const std::string k = std::to_string(i);
    tensors[k + ".exp_avg"] = st.exp_avg;
    tensors[k + ".exp_avg_sq"] = st.exp_avg_sq;
    if (st.master.defined()) tensors[k + ".master"] = st.master;
  }
  auto fmt = [](double v) {
    std::ostringstream o;
    o.precision(17);
    o << v;
    return o.str();
  };
  write_state_file(path, tensors,
                   {{"optimizer", "adamw"},
                    {"step", std::to_string(steps_)},
                    {"num_params", std::to_string(slots_.size())},
                    {"param_steps", counts},
                    {"adam_beta1", fmt(options_.beta1)},
                    {"adam_beta2", fmt(options_.beta2)},
                    {"adam_epsilon", fmt(options_.eps)}});
}

void AdamW::load(const fs::path& path) {
  const StateFile file = read_state_file(path);
  const std::string file_name = path.string();
  if (auto it = file.metadata.find("optimizer"); it == file.metadata.end() || it->second != "adamw")
    throw Error("not an AdamW state file", {.file = file_name, .field = "optimizer"});
  const int64_t n = state_metadata_int(file, "num_params", path);
  if (n != static_cast<int64_t>(slots_.size()))
    throw Error("the state holds " + std::to_string(n) + " parameters, the optimizer has " +
                    std::to_string(slots_.size()),
                {.file = file_name, .field = "num_params",
                 .hint = "resume with the same model, adapter settings and parameter grouping as the saved run"});
  auto it = file.metadata.find("param_steps");
  const std::vector<int64_t> counts =
      it == file.metadata.end() ? std::vector<int64_t>{} : parse_counts(it->second, path);
  if (counts.size() != slots_.size())
    throw Error("expected " + std::to_string(slots_.size()) + " per-parameter step counts, found " +
                    std::to_string(counts.size()),
                {.file = file_name, .field = "param_steps"});

  // Check everything before changing anything, so a failed load leaves the optimizer as it was.
  std::vector<ParamState> loaded(slots_.size());
  for (size_t i = 0; i < slots_.size(); ++i) {
    const at::Tensor& p = slots_[i].param;
    loaded[i].step = counts[i];
    if (counts[i] == 0) continue;
    const std::string k = std::to_string(i);
    auto fetch = [&](const std::string& name, at::ScalarType dtype) {
      const at::Tensor& t = state_tensor(file, name, path);
      if (!t.sizes().equals(p.sizes()))
        throw Error("shape " + shape_string(t.sizes()) + " does not match the parameter's " + shape_string(p.sizes()),
                    {.file = file_name, .field = name, .hint = "the state file belongs to a different model"});
      if (t.scalar_type() != dtype)
        throw Error(std::string("dtype ") + c10::toString(t.scalar_type()) + ", expected " + c10::toString(dtype),
                    {.file = file_name, .field = name});
      return t.to(p.device(), /*non_blocking=*/false, /*copy=*/true);
    };
    loaded[i].exp_avg = fetch(k + ".exp_avg", state_dtype(p));
    loaded[i].exp_avg_sq = fetch(k + ".exp_avg_sq", state_dtype(p));
    if (needs_master(p)) loaded[i].master = fetch(k + ".master", at::kFloat);
  }
  const int64_t steps = state_metadata_int(file, "step", path);
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < slots_.size(); ++i) {
    slots_[i].state = std::move(loaded[i]);
    if (slots_[i].state.master.defined()) slots_[i].param.detach().copy_(slots_[i].state.master);
  }
  steps_ = steps;
}

}  // namespace prefer::train
