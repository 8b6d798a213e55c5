// Which examples go into which batch, epoch by epoch: shuffled with a seed, and optionally grouped by
// length (as transformers' LengthGroupedSampler: shuffle, cut into mega-batches of 50 batches, sort
// each by length) so that a batch holds rows of similar length and wastes little padding.
#pragma once

#include <cstdint>
#include <vector>

#include "data/tokenized_dataset.h"

namespace prefer::data {

struct SamplerOptions {
  int64_t batch_size = 1;
  bool shuffle = true;
  bool group_by_length = true;
  bool drop_last = false;
  uint64_t seed = 42;
  int64_t mega_batch_mult = 50;
};

// The batches of one epoch (dataset indices). Deterministic for (seed, epoch) on every platform.
std::vector<std::vector<size_t>> epoch_batches(const TokenizedDataset& data, const SamplerOptions& options, int64_t epoch);

// Padding fraction a set of batches would have with the concatenated layout (for reports).
double padding_fraction(const TokenizedDataset& data, const std::vector<std::vector<size_t>>& batches);

// splitmix64: the portable generator behind the shuffles (std::shuffle differs between libraries).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : s_(seed) {}
  uint64_t next();
  uint64_t below(uint64_t n) { return next() % n; }

 private:
  uint64_t s_;
};

}  // namespace prefer::data
