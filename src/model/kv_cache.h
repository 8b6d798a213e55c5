// Keys and values of past tokens, per layer, for incremental decoding (inference only: appending
// writes into preallocated buffers in place, which autograd must not see; generation runs under
// at::NoGradGuard).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace prefer::model {

class KvCache {
 public:
  // `capacity` is a hint for the number of slots (prompt + new tokens); the buffers grow when exceeded.
  KvCache(int64_t num_layers, int64_t capacity) : layers_(static_cast<size_t>(num_layers)), capacity_(capacity) {}

  // Slots held so far (the same for every row: padding slots count, masked by key_mask).
  int64_t length() const { return length_; }
  bool empty() const { return length_ == 0; }

  // Position ids [B, length] and real-token mask [B, length] of the cached slots (undefined when empty).
  at::Tensor positions() const;
  at::Tensor key_mask() const;

  // Stores layer `layer`'s new keys/values [B, Hkv, Tq, D] after the current length and returns all of
  // them, cached first: [B, Hkv, length + Tq, D] (views of the buffers).
  std::pair<at::Tensor, at::Tensor> append(int64_t layer, const at::Tensor& k, const at::Tensor& v);

  // Ends a forward step: records the new tokens' positions [B, Tq] and mask [B, Tq] and advances length.
  void commit(const at::Tensor& positions, const at::Tensor& key_mask);

  // Keeps only rows `rows` (int64 [B']) of every buffer, e.g. to drop finished sequences from a batch.
  void select_rows(const at::Tensor& rows);

 private:
  struct Layer {
    at::Tensor k, v;  // [B, Hkv, capacity, D]
  };
  void ensure(Layer& layer, const at::Tensor& like_k, const at::Tensor& like_v, int64_t needed);

  std::vector<Layer> layers_;
  at::Tensor positions_;  // [B, capacity] int64
  at::Tensor mask_;       // [B, capacity] bool
  int64_t capacity_ = 0;
  int64_t length_ = 0;
};

}  // namespace prefer::model
