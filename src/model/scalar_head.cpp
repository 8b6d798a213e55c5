#include "model/scalar_head.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "model/causal_lm.h"
#include "model/tensor_convert.h"
#include "util/error.h"

namespace prefer::model {

namespace {
const at::Tensor& score_weight(const CausalLM& model) {
  if (model.config().head != io::HeadKind::SequenceClassification)
    throw Error(model.config().architecture + " has no scalar head",
                {.field = "score.weight", .hint = "load a *ForSequenceClassification model, or add a head (add_scalar_head)"});
  return model.slot(Slot::Score);
}
}  // namespace

at::Tensor last_real_index(const at::Tensor& key_mask) {
  at::Tensor m = key_mask.to(at::kLong);
  const int64_t T = m.size(1);
  if (T == 0 || !m.any(1).all().item<bool>())
    throw Error("a row has no real token to read the score from", {.field = "attention.key_mask"});
  // argmax of slot * mask is the rightmost real slot (HF's rule, with the mask in place of pad ids).
  return (at::arange(T, m.options()).unsqueeze(0) * m).argmax(1);
}

at::Tensor scalar_head(const CausalLM& model, const at::Tensor& hidden, const at::Tensor& key_mask) {
  const at::Tensor& w = score_weight(model);
  const int64_t B = hidden.size(0);
  at::Tensor idx = last_real_index(key_mask.to(hidden.device()));
  at::Tensor last = hidden.index({at::arange(B, idx.options()), idx});  // [B, H]
  return at::matmul(last, w.t()).to(accumulate_type(hidden.scalar_type()));
}

at::Tensor scalar_head_all(const CausalLM& model, const at::Tensor& hidden) {
  return at::matmul(hidden, score_weight(model).t()).to(accumulate_type(hidden.scalar_type()));
}

void add_scalar_head(CausalLM& model, int64_t num_labels, uint64_t seed, double std) {
  model.set_head(io::HeadKind::SequenceClassification, num_labels);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor w = at::normal(0.0, std, {num_labels, model.config().hidden_size}, gen);
  model.slot(Slot::Score) = w.to(model.device(), model.dtype());
}

}  // namespace prefer::model
