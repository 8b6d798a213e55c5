// Token-level generation: batched prompts with left padding, a KV cache, greedy or sampled decoding
// (temperature, top-k, top-p, as transformers' logits warpers) with a seed, stopping on any EOS id or
// after max_new_tokens. Text in and out (prompts, chat templates, JSONL) is cli/'s concern.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace prefer::model {

class CausalLM;

struct GenerationOptions {
  int64_t max_new_tokens = 128;
  bool do_sample = false;               // false: greedy (argmax)
  double temperature = 1.0;             // sampling only; logits / temperature
  int64_t top_k = 50;                   // sampling only; 0 = off (transformers' default is 50)
  double top_p = 1.0;                   // sampling only; 1 = off
  uint64_t seed = 0;                    // sampling draws from a CPU generator seeded with this
  std::vector<int64_t> eos_token_ids;   // a row stops after producing any of them
  int64_t pad_token_id = 0;             // fills the left padding of shorter prompts
  bool use_cache = true;                // false: every step re-runs the whole sequence (baseline, tests)
};

struct GenerationResult {
  std::vector<int64_t> ids;  // the new tokens, ending with the EOS id that stopped the row, if any
  bool stopped_on_eos = false;
};

// One result per prompt (each prompt holds at least one token). Runs without autograd.
std::vector<GenerationResult> generate(const CausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
                                       const GenerationOptions& options);

// What a caller that decodes rows with settings of their own (the server: one request per row) plugs
// into the shared decoding loop.
struct DecodeHooks {
  // The next token of each active row: `logits` [b, V] float32, `rows[i]` the prompt index of row i.
  // Returns [b] int64 on the logits' device.
  std::function<at::Tensor(const at::Tensor& logits, const std::vector<int64_t>& rows)> next;
  // Each new token of prompt `row`, in order (an EOS id included). Returning false ends that row (a stop
  // string appeared, a client went away).
  std::function<bool(int64_t row, int64_t token)> on_token;
};

// The decoding loop under generate(): left-padded prompts, one KV-cached step per token, a row ends
// after an EOS id, after `max_new_tokens[row]` tokens or when on_token says so; finished rows leave the
// batch. `options` gives eos_token_ids, pad_token_id and use_cache (its sampling fields are unused).
void decode(const CausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
            const std::vector<int64_t>& max_new_tokens, const GenerationOptions& options, const DecodeHooks& hooks);

// transformers' sampling warpers in its order (temperature, top-k, top-p) on logits [B, V] (float32):
// removed tokens get -inf. Each warper is skipped at its neutral value (1, 0, 1).
at::Tensor warp_logits(const at::Tensor& logits, double temperature, int64_t top_k, double top_p);

// The next token of each row [B] int64 from logits [B, V]: argmax, or a draw from the warped
// distribution with `gen` (a CPU generator).
at::Tensor next_tokens(const at::Tensor& logits, const GenerationOptions& options, at::Generator& gen);

}  // namespace prefer::model
