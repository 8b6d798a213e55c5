#include "train/reward_recipe.h"

#include <ATen/ATen.h>

#include <cmath>

#include "model/scalar_head.h"
#include "util/error.h"

namespace prefer::train {

at::Tensor row_rewards(const model::CausalLM& model, const data::Batch& b) {
  at::Tensor hidden = model.forward(b.ids, b.positions, b.layout);           // [R, T, H]
  return model::scalar_head(model, hidden, b.layout.key_mask).select(1, 0);  // [R]
}

RewardRecipe::RewardRecipe(model::CausalLM& model, RewardRecipeOptions options) : model_(model), opt_(std::move(options)) {
  opt_.reward.validate();
  opt_.batch.layout = data::BatchLayout::Concatenated;
  if (model_.config().head != io::HeadKind::SequenceClassification)
    throw Error("a reward model needs a sequence-classification head (score.weight)");
}

MicroStep RewardRecipe::step(const data::TokenizedDataset& d, const std::vector<size_t>& examples, bool train) {
  data::Batch batch = data::make_batch(d, examples, opt_.batch);
  if (!batch.paired) throw Error("a reward model trains on preference pairs (chosen, rejected)");
  const int64_t B = batch.pairs;
  model_.set_training(train);
  std::optional<at::NoGradGuard> no_grad;
  if (!train) no_grad.emplace();
  at::Tensor r = row_rewards(model_, batch);
  objectives::RewardInputs in{.rewards_chosen = r.slice(0, 0, B), .rewards_rejected = r.slice(0, B, 2 * B)};
  bool any_margin = false;
  std::vector<double> margin(static_cast<size_t>(B), 0.0);
  for (int64_t k = 0; k < B; ++k) {
    double m = d.row(examples[static_cast<size_t>(k)]).margin;
    if (!std::isnan(m)) any_margin = true, margin[static_cast<size_t>(k)] = m;
  }
  if (any_margin) in.margin = at::tensor(at::ArrayRef<double>(margin), at::kDouble);
  objectives::RewardOutput o = objectives::reward_loss(in, opt_.reward);
  MicroStep m;
  m.loss_sum = o.losses.sum();
  m.weight = static_cast<double>(B);
  m.examples = B;
  m.tokens = batch.real_tokens;
  for (size_t e : examples) m.lines.push_back(d.row(e).line);
  add_means(m.metrics, o.metrics, static_cast<double>(B));
  return m;
}

std::pair<at::Tensor, at::Tensor> RewardRecipe::pair_rewards(const data::TokenizedDataset& d, const std::vector<size_t>& examples) {
  at::NoGradGuard ng;
  bool was = model_.mode().training;
  model_.set_training(false);
  data::Batch batch = data::make_batch(d, examples, opt_.batch);
  at::Tensor r = row_rewards(model_, batch).to(at::kDouble);
  model_.set_training(was);
  const int64_t B = batch.pairs;
  return {r.slice(0, 0, B), r.slice(0, B, 2 * B)};
}

void RewardRecipe::install(TrainingTask& task) {
  task.step = [this](const data::TokenizedDataset& d, const std::vector<size_t>& ex, bool train) { return step(d, ex, train); };
}

}  // namespace prefer::train
