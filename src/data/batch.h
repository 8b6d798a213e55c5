// Token batches for the model: ids, explicit position ids, the attention layout and the mask of
// tokens whose log-probs count. Built from a TokenizedDataset and a list of example indices.
//
// Layouts (docs/architecture.md):
//   concatenated   rows [prompt+chosen x B ; prompt+rejected x B], each padded to the longest row
//                  (TRL's layout); single-completion data: one row per example.
//   prefix-shared  one row per pair: prompt, chosen, rejected. Chosen sees the prompt and itself;
//                  rejected sees the prompt and itself (not chosen), its positions restarting after the
//                  prompt; so the prompt is computed once. Needs an explicit visibility mask.
// Padding side never changes the numbers: positions count real tokens from 0 and the scorer reads only
// the masked slots (a test pins left = right).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "data/tokenized_dataset.h"
#include "model/attention.h"

namespace prefer::data {

enum class PadSide { Right, Left };
enum class BatchLayout { Concatenated, PrefixShared };

struct BatchOptions {
  PadSide pad_side = PadSide::Right;
  BatchLayout layout = BatchLayout::Concatenated;
  int32_t pad_id = 0;
  int64_t pad_to_multiple_of = 1;  // T rounded up to a multiple (TRL's pad_to_multiple_of)
  // Then T grown until R * T (the rows of every [R*T, hidden] GEMM) is a multiple of this. oneDNN's
  // bf16 GEMMs on AVX-512/AMX CPUs run 4-8x slower for some row counts that are not multiples of 64
  // (e.g. 708, 848, 944; docs/performance.md), so the DPO command asks for 64: at most 63 / R extra
  // padding slots per row.
  int64_t tokens_multiple_of = 1;
  // Padding-free rows (TRL's padding_free): the batch's rows (one per pair when prefix-shared, else one
  // per sequence) are placed one after another into as few evenly filled rows of at most
  // max(padding_free_tokens, the longest) tokens as fit (packing.h: padding_free_rows), each keeping its
  // own positions and seeing only itself (the visibility matrix), so the numbers are those of padded rows
  // while the GEMMs skip the padding. The cap bounds the [R, T, T] visibility and the float32 attention
  // bias (4096: 16 + 64 MiB a row).
  bool padding_free = false;
  int64_t padding_free_tokens = 4096;
  // Pairs only: also score each chosen row's prompt tokens (all but the first), as sequences 2B + k, so
  // that an NLL can cover the whole chosen sequence (TRL's ORPO). They belong to no completion's sum.
  bool score_chosen_prompt = false;
};

struct Batch {
  at::Tensor ids;            // [R, T] int64
  at::Tensor positions;      // [R, T] int64 (padding slots 0)
  model::AttentionLayout layout;  // key_mask [R, T] bool; visibility [R, T, T] for prefix-shared or padding-free
  // Concatenated layout only: slot t holds a completion token scored from slot t - 1 [R, T] bool (the
  // scorer's response_mask form; with padding_free, t - 1 is still in t's own sequence).
  at::Tensor response_mask;
  // Every layout: the scored tokens as explicit lists [N] int64. Token n is predicted by the hidden state
  // at flat slot score_source[n] (row * T + t), is token id score_target[n], and belongs to sequence
  // score_sequence[n]: chosen of pair b -> b, rejected of pair b -> B + b (single completions: b).
  // In prefix-shared rows the first rejected token is predicted from the last prompt slot, which the
  // slot-before rule cannot express.
  at::Tensor score_source, score_target, score_sequence;
  int64_t sequences = 0;         // S = 2B for pairs (3B with score_chosen_prompt), B otherwise
  std::vector<size_t> examples;  // dataset indices, in batch order
  int64_t pairs = 0;             // B; concatenated pair batches have R = 2B rows (fewer when padding-free)
  bool paired = false;
  BatchLayout kind = BatchLayout::Concatenated;
  int64_t real_tokens = 0;       // tokens that are not padding
  int64_t padded_tokens = 0;     // R * T
  double padding_fraction() const { return padded_tokens ? 1.0 - double(real_tokens) / double(padded_tokens) : 0.0; }
};

Batch make_batch(const TokenizedDataset& data, const std::vector<size_t>& examples, const BatchOptions& options = {});

// The padded row length T for rows of at most `longest` tokens: at least 1, rounded up to
// pad_to_multiple_of, then grown until rows x T is a multiple of tokens_multiple_of.
int64_t padded_length(int64_t longest, int64_t rows, const BatchOptions& options);

}  // namespace prefer::data
