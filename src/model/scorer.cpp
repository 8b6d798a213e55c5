#include "model/scorer.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>

#include "model/causal_lm.h"
#include "model/fused_kernels.h"
#include "model/logit_kernels.h"
#include "model/tensor_convert.h"
#include "util/error.h"

namespace prefer::model {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// g_n (onehot(target_n) - softmax(logits_n)) for logits [c, V] in the accumulate dtype (consumed), lse and
// g [c]: the ATen form of fused::target_logprob_grad_, for what the row kernels do not take (float64).
at::Tensor logit_grad(at::Tensor logits, const at::Tensor& lse, const at::Tensor& g, const at::Tensor& targets) {
  at::Tensor d = logits.sub_(lse.unsqueeze(1)).exp_().mul_(g.neg().unsqueeze(1));
  return d.scatter_add_(1, targets.unsqueeze(1), g.unsqueeze(1));
}

// log p(target) per row, computed chunk by chunk; backward recomputes each chunk's logits, or (fold)
// scales the input gradient formed in the forward.
struct ChunkedLogProbs : public torch::autograd::Function<ChunkedLogProbs> {
  // Outputs: logprobs [N], then (when stats) entropy [N], mean logit [N], argmax hit [N] and
  // log Σ_v p_v² [N] (WPO's weighting), non-differentiable.
  // fold: the LM head is frozen and a backward will follow (chunked_token_logprobs decides), so each
  // chunk's d lp / d h = W[target] - softmax W (= (onehot - softmax) W, [c, H]) is formed here, while the
  // chunk's logits exist, and backward only scales it by the upstream gradient: no logits recomputed.
  static variable_list forward(AutogradContext* ctx, at::Tensor h, at::Tensor w, at::Tensor targets, int64_t chunk,
                               bool stats, bool fold) {
    const int64_t N = h.size(0);
    const at::ScalarType acc = accumulate_type(h.scalar_type());
    const auto opts = h.options().dtype(acc);
    at::Tensor lp = at::empty({N}, opts);
    at::Tensor lse_all = at::empty({N}, opts);  // kept for backward: softmax = exp(logits - lse)
    at::Tensor ent = stats ? at::empty({N}, opts) : at::Tensor();
    at::Tensor mean = stats ? at::empty({N}, opts) : at::Tensor();
    at::Tensor hit = stats ? at::empty({N}, opts) : at::Tensor();
    at::Tensor sq = stats ? at::empty({N}, opts) : at::Tensor();
    at::Tensor dlp_dh = fold ? at::empty_like(h) : at::Tensor();  // [N, H] in h's dtype (fold)
    // (onehot - softmax) W for chunk rows [s, s + c), from d = the chunk's logits' gradient at g = 1.
    auto fold_chunk = [&](int64_t s, int64_t c, const at::Tensor& d) { dlp_dh.narrow(0, s, c).copy_(at::matmul(d, w)); };
    for (int64_t s = 0; s < N; s += chunk) {
      const int64_t c = std::min(chunk, N - s);
      at::Tensor raw = at::matmul(h.narrow(0, s, c), w.t());  // [c, V] in the compute dtype
      if (fused::logits_eligible(raw)) {
        // float32 or bf16 on the CPU: two passes over each row, no [c, V] temporaries (logit_kernels.h).
        fused::LogitRowStats r = fused::logit_row_stats(raw, targets.narrow(0, s, c), stats);
        lse_all.narrow(0, s, c).copy_(r.lse);
        lp.narrow(0, s, c).copy_(r.target_logit - r.lse);
        if (stats) {
          ent.narrow(0, s, c).copy_(r.entropy);
          mean.narrow(0, s, c).copy_(r.mean_logit);
          hit.narrow(0, s, c).copy_(r.hit);
          sq.narrow(0, s, c).copy_(r.log_sum_p_sq);
        }
        if (fold) {
          fused::target_logprob_grad_(raw, r.lse, at::ones({c}, opts), targets.narrow(0, s, c));
          fold_chunk(s, c, raw);
        }
        continue;
      }
      at::Tensor logits = fused::convert(raw, acc);  // [c, V]
      at::Tensor lse;                                // [c]
      if (!stats) {
        lse = at::logsumexp(logits, -1);
      } else {
        // One exp pass serves the log-sum-exp, the entropy and log Σ p²: with e = exp(logits - max) and
        // S = sum(e), lse = max + log S, entropy = lse - sum(e * logits) / S and log Σ p² =
        // log sum(e * e) - 2 log S (row-wise dot products, so no second [c, V] buffer is formed).
        auto [m, arg] = logits.max(-1, /*keepdim=*/true);  // [c, 1]
        hit.narrow(0, s, c).copy_(arg.squeeze(1).eq(targets.narrow(0, s, c)));
        at::Tensor e = (logits - m).exp_();
        at::Tensor sum = e.sum(-1);
        lse = m.squeeze(1) + sum.log();
        at::Tensor dot = at::bmm(e.unsqueeze(1), logits.unsqueeze(2)).view({c});
        ent.narrow(0, s, c).copy_(lse - dot / sum);
        at::Tensor e2 = at::bmm(e.unsqueeze(1), e.unsqueeze(2)).view({c});
        sq.narrow(0, s, c).copy_(e2.log() - 2 * sum.log());
        mean.narrow(0, s, c).copy_(logits.mean(-1));
      }
      lse_all.narrow(0, s, c).copy_(lse);
      lp.narrow(0, s, c).copy_(logits.gather(1, targets.narrow(0, s, c).unsqueeze(1)).squeeze(1) - lse);
      if (fold) fold_chunk(s, c, fused::convert(logit_grad(logits, lse, at::ones({c}, opts), targets.narrow(0, s, c)), h.scalar_type()));
    }
    if (fold) {
      ctx->save_for_backward({dlp_dh});  // h, w and the log-sum-exps are not needed again
    } else {
      ctx->save_for_backward({h, w, targets, lse_all});
    }
    ctx->saved_data["chunk"] = chunk;
    ctx->saved_data["fold"] = fold;
    if (!stats) return {lp};
    ctx->mark_non_differentiable({ent, mean, hit, sq});
    return {lp, ent, mean, hit, sq};
  }

  // d lp_n / d logits_n = onehot(target_n) - softmax(logits_n); chain through logits = h W^T.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    if (ctx->saved_data["fold"].toBool()) {  // d lp_n / d h_n was formed in the forward
      const at::Tensor& dlp_dh = saved[0];
      at::Tensor dh = (grads[0].unsqueeze(1) * dlp_dh).to(dlp_dh.scalar_type());
      return {dh, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    }
    const at::Tensor &h = saved[0], &w = saved[1], &targets = saved[2], &lse = saved[3];
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const at::Tensor g = grads[0];  // [N] (materialised: zeros when the output was unused)
    const int64_t N = h.size(0);
    const at::ScalarType acc = accumulate_type(h.scalar_type());
    const bool want_h = ctx->needs_input_grad(0), want_w = ctx->needs_input_grad(1);
    at::Tensor dh = want_h ? at::empty_like(h) : at::Tensor();
    at::Tensor dw = want_w ? at::zeros(w.sizes(), w.options().dtype(acc)) : at::Tensor();
    for (int64_t s = 0; s < N; s += chunk) {
      const int64_t c = std::min(chunk, N - s);
      at::Tensor hc = h.narrow(0, s, c);
      at::Tensor gc = g.narrow(0, s, c).to(acc);  // [c]
      at::Tensor d = at::matmul(hc, w.t());        // recomputed logits [c, V], then their gradient in place
      if (fused::logits_eligible(d)) {
        fused::target_logprob_grad_(d, lse.narrow(0, s, c), gc, targets.narrow(0, s, c));
      } else {
        d = fused::convert(logit_grad(fused::convert(d, acc), lse.narrow(0, s, c), gc, targets.narrow(0, s, c)), h.scalar_type());
      }
      if (want_h) dh.narrow(0, s, c).copy_(at::matmul(d, w));
      if (want_w) {
        if (d.scalar_type() == acc) {
          dw.addmm_(d.t(), hc);  // in place: no [V, H] temporary
        } else {
          // bf16/f16: the product in the compute dtype, the sum over chunks in float32 (one fused pass for
          // bf16: ATen 1.13's promoting add and casts of [V, H] ran at ~0.3 G elements/s).
          at::Tensor part = at::matmul(d.t(), hc);  // [V, H]
          if (fused::eligible({part}) && dw.is_contiguous()) dw = fused::add_float_bf16(dw, part);
          else dw.add_(part);
        }
      }
    }
    return {dh, want_w ? fused::convert(dw, w.scalar_type()) : at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor()};
  }
};

}  // namespace

at::Tensor chunked_token_logprobs(const at::Tensor& h, const at::Tensor& w, const at::Tensor& targets,
                                  int64_t chunk_tokens, at::Tensor* entropy, at::Tensor* mean_logit, at::Tensor* hit,
                                  at::Tensor* log_sum_p_sq) {
  if (chunk_tokens <= 0) throw Error("must be > 0", {.field = "chunk_tokens"});
  const bool stats = entropy != nullptr || mean_logit != nullptr || hit != nullptr || log_sum_p_sq != nullptr;
  // Fold the head's backward into the forward when only h gets a gradient (a frozen or LoRA-adapted
  // model's head): one [c, V] x [V, H] product per chunk either way, but no logits recomputed in backward.
  const bool fold = at::GradMode::is_enabled() && h.requires_grad() && !w.requires_grad();
  variable_list out = ChunkedLogProbs::apply(h, w, targets.to(at::kLong).contiguous(), chunk_tokens, stats, fold);
  if (entropy) *entropy = out[1];
  if (mean_logit) *mean_logit = out[2];
  if (hit) *hit = out[3];
  if (log_sum_p_sq) *log_sum_p_sq = out[4];
  return out[0];
}

SequenceScores score_tokens(const at::Tensor& hidden, const at::Tensor& lm_head, const at::Tensor& source,
                            const at::Tensor& target, const at::Tensor& sequence, int64_t S, const ScoreOptions& options) {
  if (hidden.dim() != 3) throw Error("hidden states must be [batch, tokens, hidden], found " + c10::str(hidden.sizes()));
  const int64_t H = hidden.size(2);
  const auto device = hidden.device();
  at::Tensor src = source.to(device, at::kLong), tgt = target.to(device, at::kLong), seq = sequence.to(device, at::kLong);
  if (src.dim() != 1 || tgt.sizes() != src.sizes() || seq.sizes() != src.sizes())
    throw Error("source, target and sequence must be [N] lists of one length, found " + c10::str(src.sizes()) + ", " +
                    c10::str(tgt.sizes()) + ", " + c10::str(seq.sizes()),
                {.field = "score_source"});
  at::Tensor h = hidden.reshape({-1, H}).index_select(0, src);  // [N, H]
  at::Tensor ent, mean, hit, sq;
  at::Tensor lp = chunked_token_logprobs(h, lm_head, tgt, options.chunk_tokens, options.stats ? &ent : nullptr,
                                         options.stats ? &mean : nullptr, options.stats ? &hit : nullptr,
                                         options.stats ? &sq : nullptr);  // [N]
  const auto acc_opts = hidden.options().dtype(lp.scalar_type());
  SequenceScores out;
  out.sum = at::zeros({S}, acc_opts).index_add(0, seq, lp);
  out.count = at::zeros({S}, at::TensorOptions().dtype(at::kLong).device(device)).index_add(0, seq, at::ones_like(seq));
  if (options.per_token) out.token_logps = lp;
  if (options.stats) {
    at::Tensor denom = out.count.clamp_min(1).to(lp.scalar_type());
    out.entropy = at::zeros({S}, acc_opts).index_add(0, seq, ent) / denom;
    out.mean_logit = at::zeros({S}, acc_opts).index_add(0, seq, mean) / denom;
    out.accuracy = at::zeros({S}, acc_opts).index_add(0, seq, hit) / denom;
    out.token_log_sum_p_sq = sq;
  }
  return out;
}

SequenceScores score(const at::Tensor& hidden, const at::Tensor& lm_head, const at::Tensor& ids,
                     const at::Tensor& response_mask, const ScoreOptions& options) {
  if (hidden.dim() != 3) throw Error("hidden states must be [batch, tokens, hidden], found " + c10::str(hidden.sizes()));
  const int64_t B = hidden.size(0), T = hidden.size(1);
  if (ids.sizes() != at::IntArrayRef({B, T}) || response_mask.sizes() != at::IntArrayRef({B, T}))
    throw Error("ids and response mask must be [" + std::to_string(B) + ", " + std::to_string(T) + "], found " +
                    c10::str(ids.sizes()) + " and " + c10::str(response_mask.sizes()),
                {.field = "response_mask"});
  const auto device = hidden.device();
  at::Tensor mask = response_mask.to(device, at::kBool);
  if (T > 0 && mask.select(1, 0).any().item<bool>())
    throw Error("the first slot of a row cannot be scored: nothing precedes it", {.field = "response_mask",
                .hint = "a response token's log-prob comes from the slot before it; the prompt must hold at least one token"});
  // (b, t) of every scored token; its log-prob is read from hidden row b*T + t - 1.
  at::Tensor where = mask.nonzero();  // [N, 2]
  at::Tensor b = where.select(1, 0), t = where.select(1, 1);
  at::Tensor targets = ids.to(device, at::kLong).index({b, t});
  SequenceScores out = score_tokens(hidden, lm_head, b * T + t - 1, targets, b, B, options);
  if (options.per_token)
    out.token_logps = at::zeros({B * T}, out.token_logps.options()).index_add(0, b * T + t, out.token_logps).view({B, T});
  if (options.stats)
    out.token_log_sum_p_sq =
        at::zeros({B * T}, out.token_log_sum_p_sq.options()).index_add(0, b * T + t, out.token_log_sum_p_sq).view({B, T});
  return out;
}

SequenceScores score_tokens(const CausalLM& model, const at::Tensor& ids, const at::Tensor& positions,
                            const AttentionLayout& layout, const at::Tensor& source, const at::Tensor& target,
                            const at::Tensor& sequence, int64_t num_sequences, const ScoreOptions& options) {
  at::Tensor hidden = model.forward(ids, positions, layout);
  return score_tokens(hidden, model.lm_head_weight(), source, target, sequence, num_sequences, options);
}

SequenceScores score(const CausalLM& model, const at::Tensor& ids, const at::Tensor& positions,
                     const AttentionLayout& layout, const at::Tensor& response_mask, const ScoreOptions& options) {
  at::Tensor hidden = model.forward(ids, positions, layout);
  return score(hidden, model.lm_head_weight(), ids, response_mask, options);
}

}  // namespace prefer::model
