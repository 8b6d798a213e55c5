#include "train/dpo_recipe.h"

#include <ATen/ATen.h>

#include "model/lora.h"
#include "train/batch_logps.h"
#include "train/pair_logps.h"
#include "util/error.h"

namespace prefer::train {

DpoRecipe::DpoRecipe(model::CausalLM& policy, Reference& reference, DpoRecipeOptions options)
    : policy_(policy), reference_(&reference), opt_(std::move(options)) {
  opt_.dpo.validate();
}

DpoRecipe::DpoRecipe(model::CausalLM& policy, model::CausalLM* frozen, DpoRecipeOptions options)
    : policy_(policy), owned_(std::make_unique<Reference>(policy, frozen, options.chunk_tokens)), reference_(owned_.get()),
      opt_(std::move(options)) {
  opt_.dpo.validate();
}

DpoStepOutput DpoRecipe::step(const data::TokenizedDataset& data, const std::vector<size_t>& examples, bool train) {
  data::Batch batch = data::make_batch(data, examples, opt_.batch);
  if (!batch.paired) throw Error("DPO needs preference pairs (prompt, chosen, rejected)");
  const int64_t B = batch.pairs;
  DpoStepOutput out;
  out.pairs = B;
  out.tokens = batch.real_tokens;
  out.padding_fraction = batch.padding_fraction();
  for (size_t e : examples) out.lines.push_back(data.row(e).line);

  // Reference first, without gradient, so its activations are gone before the policy forward.
  auto [ref_c, ref_r] = reference_->sums(data, examples, batch);

  policy_.set_training(train);
  std::optional<at::NoGradGuard> no_grad;
  if (!train) no_grad.emplace();
  model::SequenceScores pol = batch_logps(policy_, batch, opt_.chunk_tokens, /*stats=*/true);
  // The loss is computed in float64 at these sizes (B values): exact and cheap.
  PairLogps p = pair_logps(pol, batch);
  objectives::DpoInputs in;
  in.policy_chosen_logps = p.chosen;
  in.policy_rejected_logps = p.rejected;
  in.reference_chosen_logps = ref_c.to(at::kDouble);
  in.reference_rejected_logps = ref_r.to(at::kDouble);
  in.chosen_lengths = p.chosen_tokens;
  in.rejected_lengths = p.rejected_tokens;
  if (opt_.dpo.needs_nll()) in.nll_loss = p.chosen_nll;
  if (opt_.dpo.use_weighting) {
    // WPO: the policy's own concentration log Σ p², kept per token by the chunked kernel.
    at::Tensor w = wpo_sequence_log_weights(pol, batch);
    in.chosen_wpo_log_weights = w.slice(0, 0, B);
    in.rejected_wpo_log_weights = w.slice(0, B, 2 * B);
  }
  if (opt_.dpo.ld_alpha) {
    // LD-DPO: the first min(|y_c|, |y_r|) tokens count fully, the longer tail with weight ld_alpha.
    // Token order within a sequence follows the score lists (left to right), so rank = running count.
    at::Tensor seq = batch.score_sequence;
    at::Tensor rank = at::zeros_like(seq);
    {
      auto sa = seq.accessor<int64_t, 1>();
      auto ra = rank.accessor<int64_t, 1>();
      std::vector<int64_t> seen(static_cast<size_t>(2 * B), 0);
      for (int64_t n = 0; n < seq.size(0); ++n) ra[n] = seen[static_cast<size_t>(sa[n])]++;
    }
    at::Tensor shared = at::minimum(pol.count.slice(0, 0, B), pol.count.slice(0, B, 2 * B)).repeat({2});  // [2B]
    at::Tensor weight = at::where(rank.lt(shared.index_select(0, seq)), at::ones({1}, at::kDouble),
                                  at::full({1}, *opt_.dpo.ld_alpha, at::kDouble));
    at::Tensor ld = at::zeros({2 * B}, at::kDouble).index_add(0, seq, pol.token_logps.to(at::kDouble) * weight);
    in.policy_chosen_logps = ld.slice(0, 0, B);
    in.policy_rejected_logps = ld.slice(0, B, 2 * B);
    if (opt_.dpo.trl_version == objectives::TrlVersion::kV1_9) {
      // v1.9.0 applies the same weighting to the reference; that needs its token log-probs.
      if (reference_->kind(data) == ReferenceKind::Table)
        throw Error("ld_alpha with trl_version v1.9.0 needs the reference's token log-probs; precompute_ref_log_probs keeps "
                    "only their sums", {.field = "ld_alpha", .hint = "turn precompute_ref_log_probs off for LD-DPO"});
      model::SequenceScores r = reference_->scores(batch);
      at::NoGradGuard ng;
      at::Tensor rl = at::zeros({2 * B}, at::kDouble).index_add(0, seq, r.token_logps.to(at::kDouble) * weight);
      in.reference_chosen_logps = rl.slice(0, 0, B);
      in.reference_rejected_logps = rl.slice(0, B, 2 * B);
    }
  }
  objectives::DpoOutput d = objectives::dpo_loss(in, opt_.dpo, &state_);
  out.loss = d.loss;
  out.metrics = d.metrics;
  // TRL's logits/chosen: the mean over chosen completion tokens of the logits averaged over the vocabulary.
  out.metrics["logits/chosen"] = p.stats.at("logits/chosen");
  out.metrics["logits/rejected"] = p.stats.at("logits/rejected");
  out.chosen_logps = in.policy_chosen_logps.detach();
  out.rejected_logps = in.policy_rejected_logps.detach();
  return out;
}

}  // namespace prefer::train
