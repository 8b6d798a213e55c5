#include "train/sft_recipe.h"

#include <ATen/ATen.h>

#include "train/batch_logps.h"

namespace prefer::train {

SftRecipe::SftRecipe(model::CausalLM& model, SftRecipeOptions options) : model_(model), opt_(std::move(options)) {
  opt_.sft.validate();
}

const data::Packing& SftRecipe::packing(const data::TokenizedDataset& d) {
  auto it = packings_.find(&d);
  if (it == packings_.end()) it = packings_.emplace(&d, data::pack_examples(d, opt_.max_length)).first;
  return it->second;
}

double SftRecipe::weight(const data::TokenizedDataset& d, const std::vector<size_t>& examples) const {
  int64_t n = 0;
  for (size_t e : examples) n += data::sft_scored_tokens(d, e, !opt_.completion_only_loss);
  return static_cast<double>(n);
}

BatchList SftRecipe::batches(const data::TokenizedDataset& d, const data::SamplerOptions& so, int64_t epoch) {
  return data::packed_epoch_batches(packing(d), so, epoch);
}

std::vector<std::vector<size_t>> SftRecipe::rows(const data::TokenizedDataset& d, const std::vector<size_t>& examples) {
  std::vector<std::vector<size_t>> out;
  // Packed rows only for a dataset whose batches were made by packing (batches()); otherwise, e.g. an
  // eval set with eval_packing false, one example per row, or with padding_free the micro-batch's
  // examples placed one after another (data::padding_free_rows).
  auto it = packings_.find(&d);
  if (!opt_.packing || it == packings_.end()) {
    if (opt_.batch.padding_free) return data::padding_free_sft_rows(d, examples, opt_.batch.padding_free_tokens);
    for (size_t e : examples) out.push_back({e});
    return out;
  }
  // A micro-batch lists whole packed rows, bin after bin (packed_epoch_batches).
  const data::Packing& p = it->second;
  for (size_t k = 0; k < examples.size(); ++k) {
    if (k == 0 || p.bin_of[examples[k]] != p.bin_of[examples[k - 1]]) out.emplace_back();
    out.back().push_back(examples[k]);
  }
  return out;
}

MicroStep SftRecipe::step(const data::TokenizedDataset& d, const std::vector<size_t>& examples, bool train) {
  data::Batch batch = data::make_sft_batch(d, rows(d, examples), opt_.batch, !opt_.completion_only_loss);
  model_.set_training(train);
  std::optional<at::NoGradGuard> no_grad;
  if (!train) no_grad.emplace();
  model::SequenceScores s = batch_logps(model_, batch, opt_.chunk_tokens, /*stats=*/true);
  const int64_t N = s.token_logps.size(0);
  objectives::SftOutput o = objectives::sft_loss({.token_logps = s.token_logps.view({1, N}), .loss_mask = at::ones({1, N}, at::kBool)}, opt_.sft);
  MicroStep m;
  m.loss_sum = o.loss_sum;
  m.weight = static_cast<double>(N);
  m.examples = static_cast<int64_t>(examples.size());
  m.tokens = batch.real_tokens;
  for (size_t e : examples) m.lines.push_back(d.row(e).line);
  // TRL's entropy and mean_token_accuracy: means over the trained tokens.
  at::Tensor count = s.count.to(at::kDouble);
  m.metrics["entropy"] = {(s.entropy.to(at::kDouble) * count).sum().detach(), static_cast<double>(N)};
  m.metrics["mean_token_accuracy"] = {(s.accuracy.to(at::kDouble) * count).sum().detach(), static_cast<double>(N)};
  return m;
}

void SftRecipe::install(TrainingTask& task) {
  task.step = [this](const data::TokenizedDataset& d, const std::vector<size_t>& ex, bool train) { return step(d, ex, train); };
  task.weight = [this](const data::TokenizedDataset& d, const std::vector<size_t>& ex) { return weight(d, ex); };
  if (opt_.packing)
    task.batches = [this](const data::TokenizedDataset& d, const data::SamplerOptions& so, int64_t epoch) { return batches(d, so, epoch); };
}

}  // namespace prefer::train
