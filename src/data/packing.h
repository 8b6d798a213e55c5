// Packing for SFT (TRL's packing_strategy "bfd" with padding_free semantics): whole examples are placed
// into rows of at most max_length tokens by best-fit decreasing, and each packed example keeps its own
// positions (restarting at 0) and attends only to itself, through the explicit visibility matrix the
// model takes. So a packed row computes exactly what the examples compute alone, with no padding
// between them (a test pins packed = unpacked per-token log-probs).
#pragma once

#include <cstdint>
#include <vector>

#include "data/batch.h"
#include "data/sampler.h"
#include "data/tokenized_dataset.h"

namespace prefer::data {

// Best-fit decreasing: items by length, longest first (ties by index), each into the open bin with the
// least room that still holds it, else a new bin. Returns bins of item indices, each in placement order,
// bins ordered by creation. A length above `capacity` is an error (examples are truncated before).
std::vector<std::vector<size_t>> pack_bfd(const std::vector<int64_t>& lengths, int64_t capacity);

// Padding-free rows for one batch: items of `lengths` tokens into as few rows of at most max(row_tokens,
// the longest item) as fit, evenly filled (best-fit decreasing at the smallest capacity that needs no
// more rows), since every row is padded to the longest. Each row lists its items in index order and rows
// are ordered by their first item, so a batch that fits one row keeps its order.
std::vector<std::vector<size_t>> padding_free_rows(const std::vector<int64_t>& lengths, int64_t row_tokens);

// Padding-free rows of an SFT micro-batch: its examples (prompt + completion) by padding_free_rows,
// each row listing dataset indices in the micro-batch's order.
std::vector<std::vector<size_t>> padding_free_sft_rows(const TokenizedDataset& data, const std::vector<size_t>& examples,
                                                       int64_t row_tokens);

// The examples of an SFT dataset packed into rows of `max_length` (lengths: prompt + completion).
struct Packing {
  std::vector<std::vector<size_t>> bins;  // example indices per row
  std::vector<size_t> bin_of;             // example -> its bin
};
Packing pack_examples(const TokenizedDataset& data, int64_t max_length);

// The micro-batches of one epoch over packed rows: bins shuffled with (seed, epoch) when `shuffle`,
// `batch_size` bins per micro-batch, each micro-batch listing its bins' examples bin after bin.
std::vector<std::vector<size_t>> packed_epoch_batches(const Packing& p, const SamplerOptions& options, int64_t epoch);

// SFT rows: each inner list is one row holding those examples (prompt + completion) one after another.
// Scored tokens are the completion's (and with `score_prompt` the prompt's from its second token on), one
// sequence per example in the order given; a row of several examples gets a block-diagonal causal
// visibility matrix.
Batch make_sft_batch(const TokenizedDataset& data, const std::vector<std::vector<size_t>>& rows, const BatchOptions& options,
                     bool score_prompt);

// The tokens whose loss an example contributes (what make_sft_batch scores for it).
int64_t sft_scored_tokens(const TokenizedDataset& data, size_t example, bool score_prompt);

}  // namespace prefer::data
