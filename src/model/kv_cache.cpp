#include "model/kv_cache.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace prefer::model {

namespace {
// A buffer with room for `cap` slots along `dim`, holding `old`'s first `used` slots.
at::Tensor grown(const at::Tensor& old, int64_t dim, int64_t used, int64_t cap, const at::Tensor& like) {
  std::vector<int64_t> shape = like.sizes().vec();
  shape[static_cast<size_t>(dim)] = cap;
  at::Tensor t = at::empty(shape, like.options());
  if (old.defined() && used > 0) t.narrow(dim, 0, used).copy_(old.narrow(dim, 0, used));
  return t;
}
}  // namespace

at::Tensor KvCache::positions() const { return length_ ? positions_.narrow(1, 0, length_) : at::Tensor(); }
at::Tensor KvCache::key_mask() const { return length_ ? mask_.narrow(1, 0, length_) : at::Tensor(); }

void KvCache::ensure(Layer& layer, const at::Tensor& like_k, const at::Tensor& like_v, int64_t needed) {
  const int64_t have = layer.k.defined() ? layer.k.size(2) : 0;
  if (needed <= have) return;
  const int64_t cap = std::max({needed, capacity_, have * 2});
  layer.k = grown(layer.k, 2, length_, cap, like_k);
  layer.v = grown(layer.v, 2, length_, cap, like_v);
}

std::pair<at::Tensor, at::Tensor> KvCache::append(int64_t index, const at::Tensor& k, const at::Tensor& v) {
  Layer& layer = layers_[static_cast<size_t>(index)];
  const int64_t tq = k.size(2);
  ensure(layer, k, v, length_ + tq);
  layer.k.narrow(2, length_, tq).copy_(k);
  layer.v.narrow(2, length_, tq).copy_(v);
  return {layer.k.narrow(2, 0, length_ + tq), layer.v.narrow(2, 0, length_ + tq)};
}

void KvCache::commit(const at::Tensor& positions, const at::Tensor& key_mask) {
  const int64_t tq = positions.size(1);
  const int64_t have = positions_.defined() ? positions_.size(1) : 0;
  if (length_ + tq > have) {
    const int64_t cap = std::max({length_ + tq, capacity_, have * 2});
    positions_ = grown(positions_, 1, length_, cap, positions.to(at::kLong));
    mask_ = grown(mask_, 1, length_, cap, key_mask.to(at::kBool));
  }
  positions_.narrow(1, length_, tq).copy_(positions);
  mask_.narrow(1, length_, tq).copy_(key_mask);
  length_ += tq;
}

void KvCache::select_rows(const at::Tensor& rows) {
  for (Layer& layer : layers_) {
    if (!layer.k.defined()) continue;
    layer.k = layer.k.index_select(0, rows);
    layer.v = layer.v.index_select(0, rows);
  }
  if (positions_.defined()) {
    positions_ = positions_.index_select(0, rows);
    mask_ = mask_.index_select(0, rows);
  }
}

}  // namespace prefer::model
