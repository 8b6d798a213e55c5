#include "train/kto_recipe.h"

#include <ATen/ATen.h>

#include <optional>

#include "data/sampler.h"
#include "data/unpaired.h"
#include "train/batch_logps.h"
#include "util/error.h"

namespace prefer::train {

namespace {

// The sampler's "epoch" that cuts the fixed blocks; training epochs are 0, 1, ...
constexpr int64_t kBlockEpoch = -2;

// Σ of `values` [B] over the rows where `keep` [B] is true, as a (sum, weight) metric.
MetricSum masked_sum(const at::Tensor& values, const at::Tensor& keep) {
  return {at::nansum(values.to(at::kDouble) * keep.to(at::kDouble)).detach(), keep.sum().item<double>()};
}

}  // namespace

KtoRecipe::KtoRecipe(model::CausalLM& policy, Reference& reference, KtoRecipeOptions options)
    : policy_(policy), reference_(reference), opt_(std::move(options)) {
  opt_.kto.validate();
}

const KtoBlocks& KtoRecipe::prepare(const data::TokenizedDataset& data, int64_t batch_size, uint64_t seed, const char* batch_option) {
  const bool kl = opt_.kto.needs_kl();
  if (kl && batch_size < 2)
    throw Error("is 1, but KTO's KL reference point compares each prompt with another example's completion in the same batch, "
                "and a batch of one example has no other",
                {.field = batch_option, .hint = "use a batch of at least 2 (TRL's docs advise 4 or more), or loss_type apo_zero_unpaired"});
  if (kl && data.size() == 1)
    throw Error("KTO's KL reference point needs at least 2 examples in a dataset; this one has 1", {.field = batch_option});
  KtoBlocks b;
  // No length grouping: desirable and undesirable completions often differ in length, and grouping
  // would give single-class blocks (no rewards/margins, a KL estimate from one class only).
  data::SamplerOptions so{.batch_size = batch_size, .shuffle = true, .group_by_length = false, .seed = seed};
  BatchList cut = data::epoch_batches(data, so, kBlockEpoch);
  // A block of one cannot rotate: its example joins a neighbouring block (only the KL term rotates).
  for (size_t i = 0; i < cut.size(); ++i) {
    if (!kl || cut[i].size() != 1 || cut.size() == 1) {
      b.blocks.push_back(std::move(cut[i]));
      continue;
    }
    if (!b.blocks.empty()) b.blocks.back().push_back(cut[i][0]);
    else cut[i + 1].insert(cut[i + 1].begin(), cut[i][0]);
  }
  if (kl) b.kl = data::mismatched_rows(data, b.blocks, opt_.max_length);
  return blocks_[&data] = std::move(b);
}

const KtoBlocks& KtoRecipe::blocks(const data::TokenizedDataset& data) const {
  auto it = blocks_.find(&data);
  if (it == blocks_.end()) throw Error("KTO: this dataset was not prepared (KtoRecipe::prepare)");
  return it->second;
}

BatchList KtoRecipe::batches(const data::TokenizedDataset& data, bool shuffle, uint64_t seed, int64_t epoch) const {
  BatchList out = blocks(data).blocks;
  if (shuffle) {
    data::SplitMix64 rng(seed * 1000003ull + static_cast<uint64_t>(epoch) + 0x6b746fu);
    for (size_t i = out.size(); i > 1; --i) std::swap(out[i - 1], out[rng.below(i)]);
  }
  return out;
}

MicroStep KtoRecipe::step(const data::TokenizedDataset& data, const std::vector<size_t>& examples, bool train) {
  const int64_t B = static_cast<int64_t>(examples.size());
  data::Batch batch = data::make_batch(data, examples, opt_.batch);
  if (batch.paired) throw Error("KTO needs unpaired examples (prompt, completion, label); unpair the pairs first");
  std::vector<uint8_t> labels;
  for (size_t e : examples) {
    if (data.row(e).label < 0) throw Error("KTO needs a label (true/false) on every example", {.line = data.row(e).line, .field = "label"});
    labels.push_back(static_cast<uint8_t>(data.row(e).label));
  }
  at::Tensor desirable = at::tensor(at::ArrayRef<uint8_t>(labels), at::kByte).to(at::kBool);  // [B]
  at::Tensor d_idx = desirable.nonzero().view({-1}), u_idx = desirable.logical_not().nonzero().view({-1});

  // The reference (table, adapters off or frozen copy) first, without gradient.
  at::Tensor ref = reference_.sums(data, examples, batch).first;  // [B] float64
  objectives::KtoInputs in;
  if (opt_.kto.needs_kl()) {
    // The KL rows: the reference and the policy, both without gradient (TRL's no_grad KL pass).
    const data::TokenizedDataset& kl = blocks(data).kl;
    data::Batch kl_batch = data::make_batch(kl, examples, opt_.batch);
    in.reference_KL_logps = reference_.sums(kl, examples, kl_batch).first;
    at::NoGradGuard no_grad;
    policy_.set_training(train);
    in.policy_KL_logps = batch_logps(policy_, kl_batch, opt_.chunk_tokens).sum.to(at::kDouble);
  }

  policy_.set_training(train);
  std::optional<at::NoGradGuard> no_grad;
  if (!train) no_grad.emplace();
  model::SequenceScores pol = batch_logps(policy_, batch, opt_.chunk_tokens, /*stats=*/true);
  at::Tensor sum = pol.sum.to(at::kDouble);
  in.policy_chosen_logps = sum.index_select(0, d_idx);
  in.reference_chosen_logps = ref.index_select(0, d_idx);
  in.policy_rejected_logps = sum.index_select(0, u_idx);
  in.reference_rejected_logps = ref.index_select(0, u_idx);
  objectives::KtoOutput o = objectives::kto_loss(in, opt_.kto);

  MicroStep m{.loss_sum = o.loss * static_cast<double>(B), .weight = static_cast<double>(B), .examples = B, .tokens = batch.real_tokens};
  for (size_t e : examples) m.lines.push_back(data.row(e).line);
  // TRL's KTO metrics: each group's values summed and divided by that group's count over the window,
  // token metrics by their tokens; rewards/margins only from micro-batches that hold both groups.
  at::Tensor undesirable = desirable.logical_not();
  at::Tensor reward = (sum - ref).detach() * opt_.kto.beta;
  m.metrics["kl"] = {o.kl.detach().to(at::kDouble) * static_cast<double>(B), static_cast<double>(B)};
  m.metrics["rewards/chosen"] = masked_sum(reward, desirable);
  m.metrics["rewards/rejected"] = masked_sum(reward, undesirable);
  m.metrics["logps/chosen"] = masked_sum(sum.detach(), desirable);
  m.metrics["logps/rejected"] = masked_sum(sum.detach(), undesirable);
  at::Tensor tokens = pol.count.to(at::kDouble);
  m.metrics["logits/chosen"] = masked_sum(pol.mean_logit.to(at::kDouble) * tokens, desirable);
  m.metrics["logits/chosen"].weight = (tokens * desirable.to(at::kDouble)).sum().item<double>();
  m.metrics["logits/rejected"] = masked_sum(pol.mean_logit.to(at::kDouble) * tokens, undesirable);
  m.metrics["logits/rejected"].weight = (tokens * undesirable.to(at::kDouble)).sum().item<double>();
  m.metrics["entropy"] = {(pol.entropy.to(at::kDouble) * tokens).sum().detach(), tokens.sum().item<double>()};
  if (o.metrics.count("rewards/margins")) m.metrics["rewards/margins"] = {o.metrics.at("rewards/margins").to(at::kDouble), 1.0};
  for (auto it = m.metrics.begin(); it != m.metrics.end();) it = it->second.weight > 0 ? std::next(it) : m.metrics.erase(it);
  return m;
}

void KtoRecipe::install(TrainingTask& task) {
  task.step = [this](const data::TokenizedDataset& d, const std::vector<size_t>& ex, bool train) { return step(d, ex, train); };
  task.batches = [this](const data::TokenizedDataset& d, const data::SamplerOptions& so, int64_t epoch) {
    return batches(d, so.shuffle, so.seed, epoch);
  };
}

}  // namespace prefer::train
