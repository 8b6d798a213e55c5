#include "model/generation.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <limits>

#include "model/causal_lm.h"
#include "model/kv_cache.h"
#include "util/error.h"

namespace prefer::model {

namespace {

void check_options(const GenerationOptions& o) {
  if (o.max_new_tokens < 0) throw Error("must be >= 0", {.field = "max_new_tokens"});
  if (o.do_sample && !(o.temperature > 0)) throw Error("must be > 0 when sampling", {.field = "temperature",
                                                       .hint = "use do_sample false for greedy decoding"});
  if (o.top_k < 0) throw Error("must be >= 0", {.field = "top_k"});
  if (!(o.top_p > 0 && o.top_p <= 1)) throw Error("must be in (0, 1]", {.field = "top_p"});
}

// Left-pads `prompts` to one [B, T] batch with its mask.
std::pair<at::Tensor, at::Tensor> left_pad(const std::vector<std::vector<int64_t>>& prompts, int64_t pad) {
  size_t T = 0;
  for (const auto& p : prompts) T = std::max(T, p.size());
  const int64_t B = static_cast<int64_t>(prompts.size());
  at::Tensor ids = at::full({B, static_cast<int64_t>(T)}, pad, at::kLong);
  at::Tensor mask = at::zeros({B, static_cast<int64_t>(T)}, at::kBool);
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[static_cast<size_t>(b)];
    if (p.empty()) throw Error("prompt " + std::to_string(b) + " is empty", {.field = "prompt_ids",
                               .hint = "a prompt needs at least one token (e.g. the BOS id)"});
    const int64_t off = static_cast<int64_t>(T - p.size());
    ids[b].narrow(0, off, static_cast<int64_t>(p.size())).copy_(at::tensor(p, at::kLong));
    mask[b].narrow(0, off, static_cast<int64_t>(p.size())).fill_(true);
  }
  return {ids, mask};
}

}  // namespace

at::Tensor warp_logits(const at::Tensor& logits_in, double temperature, int64_t top_k, double top_p) {
  const double neg_inf = -std::numeric_limits<double>::infinity();
  at::Tensor logits = logits_in;
  if (temperature != 1.0) logits = logits / temperature;
  if (top_k > 0) {
    const int64_t k = std::min(top_k, logits.size(-1));
    at::Tensor kth = std::get<0>(logits.topk(k, -1)).narrow(-1, k - 1, 1);  // [B, 1]
    logits = logits.masked_fill(logits < kth, neg_inf);
  }
  if (top_p < 1.0) {
    // Ascending sort; drop the low tail whose cumulative probability is <= 1 - top_p, keep at least one.
    auto [sorted, order] = logits.sort(-1, /*descending=*/false);
    at::Tensor cum = sorted.softmax(-1).cumsum(-1);
    at::Tensor remove_sorted = cum <= (1 - top_p);
    remove_sorted.narrow(-1, remove_sorted.size(-1) - 1, 1).fill_(false);
    at::Tensor remove = at::zeros_like(remove_sorted).scatter(-1, order, remove_sorted);
    logits = logits.masked_fill(remove, neg_inf);
  }
  return logits;
}

at::Tensor next_tokens(const at::Tensor& logits, const GenerationOptions& o, at::Generator& gen) {
  if (!o.do_sample) return logits.argmax(-1);
  at::Tensor probs = warp_logits(logits.to(at::kFloat), o.temperature, o.top_k, o.top_p).softmax(-1);
  // Drawn on the CPU so a seed gives the same tokens whatever the device.
  return at::multinomial(probs.to(at::kCPU), 1, false, gen).squeeze(1).to(logits.device());
}

void decode(const CausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
            const std::vector<int64_t>& max_new_tokens, const GenerationOptions& o, const DecodeHooks& hooks) {
  const int64_t B = static_cast<int64_t>(prompts.size());
  if (static_cast<int64_t>(max_new_tokens.size()) != B) throw Error("one max_new_tokens per prompt", {.field = "max_new_tokens"});
  int64_t longest = 0;
  std::vector<int64_t> rows;  // prompt index of each active row (host copy of the bookkeeping)
  for (int64_t b = 0; b < B; ++b) {
    if (max_new_tokens[static_cast<size_t>(b)] < 0) throw Error("must be >= 0", {.field = "max_new_tokens"});
    longest = std::max(longest, max_new_tokens[static_cast<size_t>(b)]);
    if (max_new_tokens[static_cast<size_t>(b)] > 0) rows.push_back(b);
  }
  if (rows.empty()) return;
  at::NoGradGuard no_grad;
  const auto dev = model.device();
  const at::Tensor lm_head = model.lm_head_weight();
  std::vector<std::vector<int64_t>> active_prompts;
  for (int64_t b : rows) active_prompts.push_back(prompts[static_cast<size_t>(b)]);
  auto [ids, mask] = left_pad(active_prompts, o.pad_token_id);
  ids = ids.to(dev);
  mask = mask.to(dev);
  at::Tensor positions = position_ids_from_mask(mask);
  at::Tensor next_pos = positions.select(1, positions.size(1) - 1) + 1;  // [b]
  std::vector<int64_t> produced(static_cast<size_t>(B), 0);
  auto is_eos = [&](int64_t t) { return std::find(o.eos_token_ids.begin(), o.eos_token_ids.end(), t) != o.eos_token_ids.end(); };

  KvCache cache(model.config().num_hidden_layers, ids.size(1) + longest);
  at::Tensor hidden = o.use_cache ? model.forward(ids, positions, {.key_mask = mask}, &cache)
                                  : model.forward(ids, positions, {.key_mask = mask});
  while (true) {
    at::Tensor last = hidden.select(1, hidden.size(1) - 1);                                    // [b, H]
    at::Tensor tok = hooks.next(at::matmul(last, lm_head.t()).to(at::kFloat), rows).to(at::kLong);  // [b]
    auto tok_cpu = tok.to(at::kCPU);
    std::vector<int64_t> keep_idx, kept_rows;
    for (size_t i = 0; i < rows.size(); ++i) {
      const int64_t row = rows[i], t = tok_cpu[static_cast<int64_t>(i)].item<int64_t>();
      const bool more = hooks.on_token(row, t);
      if (more && !is_eos(t) && ++produced[static_cast<size_t>(row)] < max_new_tokens[static_cast<size_t>(row)]) {
        keep_idx.push_back(static_cast<int64_t>(i));
        kept_rows.push_back(row);
      }
    }
    if (keep_idx.empty()) break;
    // Drop finished rows, so later steps only compute the ones still generating.
    if (keep_idx.size() < rows.size()) {
      at::Tensor keep = at::tensor(keep_idx, at::kLong).to(dev);
      tok = tok.index_select(0, keep);
      next_pos = next_pos.index_select(0, keep);
      if (o.use_cache) {
        cache.select_rows(keep);
      } else {
        ids = ids.index_select(0, keep);
        mask = mask.index_select(0, keep);
        positions = positions.index_select(0, keep);
      }
    }
    rows = std::move(kept_rows);
    if (o.use_cache) {
      hidden = model.forward(tok.unsqueeze(1), next_pos.unsqueeze(1), {}, &cache);
    } else {
      ids = at::cat({ids, tok.unsqueeze(1)}, 1);
      mask = at::cat({mask, at::ones_like(tok, tok.options().dtype(at::kBool)).unsqueeze(1)}, 1);
      positions = at::cat({positions, next_pos.unsqueeze(1)}, 1);
      hidden = model.forward(ids, positions, {.key_mask = mask});
    }
    next_pos = next_pos + 1;
  }
}

std::vector<GenerationResult> generate(const CausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
                                       const GenerationOptions& o) {
  check_options(o);
  std::vector<GenerationResult> results(prompts.size());
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  DecodeHooks hooks;
  hooks.next = [&](const at::Tensor& logits, const std::vector<int64_t>&) { return next_tokens(logits, o, gen); };
  hooks.on_token = [&](int64_t row, int64_t t) {
    GenerationResult& r = results[static_cast<size_t>(row)];
    r.ids.push_back(t);
    r.stopped_on_eos = std::find(o.eos_token_ids.begin(), o.eos_token_ids.end(), t) != o.eos_token_ids.end();
    return true;
  };
  decode(model, prompts, std::vector<int64_t>(prompts.size(), o.max_new_tokens), o, hooks);
  return results;
}

}  // namespace prefer::model
