// Online RL's rollouts (PPO, GRPO, RLOO): a batch of prompts answered by the policy, laid out
// as the tensors every online method scores, and the per-token quantities computed from it.
//
// Layout: B rows of [prompt | response]. Prompts are left-padded to P slots, responses right-padded to T
// (the longest response): ids [B, P + T]. Response token t of row b sits at slot P + t and is predicted
// from slot P + t - 1, so a [B, T] tensor indexed by t lines up with objectives/ppo.h.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace prefer::model {
class CausalLM;
}

namespace prefer::train {

struct RolloutOptions {
  int64_t response_length = 53;           // max new tokens per response (TRL's default)
  double temperature = 0.7;               // TRL: sampled at temperature + 1e-7, top_k 0
  double top_p = 1.0;                     // GRPO's top_p (sampling only: the log-probs are of the full tempered distribution)
  std::vector<int64_t> eos_token_ids;     // a response ends after any of them (contains_eos)
  std::optional<int64_t> stop_token_id;   // also ends a response (stop_token / stop_token_id)
  int64_t pad_token_id = 0;
  int64_t forward_batch_size = 64;        // local_rollout_forward_batch_size: rows per generation / forward
  uint64_t seed = 0;                      // the sampling generator's seed (the trainer gives one per step)
};

// TRL divides every logit by temperature + 1e-7: sampling, the rollout log-probs, the reference and the
// training forward all see the same tempered distribution.
double tempered(double temperature);

struct Rollout {
  std::vector<std::vector<int64_t>> prompts;    // [B] prompt ids
  std::vector<std::vector<int64_t>> responses;  // [B] response ids, ending with the stop/EOS token if any
  int64_t context_length = 0;                   // P
  at::Tensor ids;                               // [B, P + T] int64
  at::Tensor mask;                              // [B, P + T] bool: real tokens
  at::Tensor positions;                         // [B, P + T] int64 (position ids from the mask)
  at::Tensor response_mask;                     // [B, T] bool
  at::Tensor contains_eos;                      // [B] bool: the response holds an EOS id
  // [B, T] float32 log-probs of the sampled tokens under the tempered policy at sampling time (0 on
  // padding); undefined for rollouts built from given responses.
  at::Tensor sample_logprobs;

  int64_t rows() const { return static_cast<int64_t>(prompts.size()); }
  int64_t response_slots() const { return response_mask.size(1); }
  // Rows `which` (in that order) as a rollout of their own: the same P and T.
  Rollout select(const std::vector<int64_t>& which) const;
};

// The tensors of given prompts and responses (every prompt and response non-empty).
Rollout make_rollout(std::vector<std::vector<int64_t>> prompts, std::vector<std::vector<int64_t>> responses, int64_t pad_token_id,
                     const std::vector<int64_t>& eos_token_ids);

// Samples one response per prompt with the KV cache, forward_batch_size rows at a time, and records each
// sampled token's log-prob from the sampling logits (no second forward). Runs without autograd.
Rollout sample_rollout(const model::CausalLM& policy, const std::vector<std::vector<int64_t>>& prompts, const RolloutOptions& options);

// Final hidden states [B, P + T, H] of `model` on the rollout (with autograd when enabled).
at::Tensor rollout_hidden(const model::CausalLM& model, const Rollout& r);

// Log-probs [B, T] of the response tokens under logits / temperature (tempered()), 0 on padding, from
// hidden [B, P + T, H]. With `entropy` non-null, also each row's mean entropy of the tempered
// next-token distribution over its response tokens [B] (no gradient; from the chunked LM head, no
// [tokens, V] logits).
at::Tensor response_logprobs(const model::CausalLM& model, const at::Tensor& hidden, const Rollout& r, double temperature,
                             at::Tensor* entropy = nullptr);

// Values [B, T] float32: head [1, H] applied to the hidden state before each response token (slot
// P + t - 1), as TRL's value[:, P - 1 : -1]. 0 outside the response.
at::Tensor response_values(const at::Tensor& hidden, const at::Tensor& head, const Rollout& r);

// Where a reward model reads its score.
//   last_token: the last real token of each row (the EOS when the response has one). The default.
//   first_pad:  TRL's "first pad token of the response, minus one" (the last slot when there is none);
//               with pad == EOS that is the token before the EOS.
enum class ScoreRead { kLastToken, kFirstPad };

// The slot [B] int64 of each row's score under `read`.
at::Tensor score_slots(const Rollout& r, ScoreRead read, int64_t pad_token_id);

// Scores [B] float32: head [1, H] at score_slots(r, read, pad) of hidden [B, P + T, H].
at::Tensor read_scores(const at::Tensor& hidden, const at::Tensor& head, const Rollout& r, ScoreRead read, int64_t pad_token_id);

}  // namespace prefer::train
