#include "data/packing.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <map>
#include <numeric>

#include "util/error.h"

namespace prefer::data {

std::vector<std::vector<size_t>> pack_bfd(const std::vector<int64_t>& lengths, int64_t capacity) {
  std::vector<size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
  std::vector<std::vector<size_t>> bins;
  std::multimap<int64_t, size_t> room;  // remaining room -> bin
  for (size_t i : order) {
    const int64_t n = lengths[i];
    if (n > capacity) throw Error("an example of " + std::to_string(n) + " tokens does not fit a packed row of " + std::to_string(capacity),
                                  {.field = "max_length"});
    auto it = room.lower_bound(n);  // the tightest bin that still holds it
    size_t bin;
    int64_t left;
    if (it == room.end()) {
      bin = bins.size();
      bins.emplace_back();
      left = capacity;
    } else {
      bin = it->second;
      left = it->first;
      room.erase(it);
    }
    bins[bin].push_back(i);
    room.emplace(left - n, bin);
  }
  return bins;
}

std::vector<std::vector<size_t>> padding_free_rows(const std::vector<int64_t>& lengths, int64_t row_tokens) {
  if (lengths.empty()) return {};
  const int64_t longest = *std::max_element(lengths.begin(), lengths.end());
  const int64_t total = std::accumulate(lengths.begin(), lengths.end(), int64_t{0});
  const int64_t cap = std::max(row_tokens, longest);
  // Every row is padded to the longest one, so aim for the fewest rows the cap allows, evenly filled:
  // best-fit decreasing at the even share first, the capacity raised by 1/32 until it fits (at the cap
  // it is taken as it comes). Filling rows to the cap instead leaves a short last row, e.g. 8 pairs of
  // 620 tokens as rows of 6 and 2 pairs (3,720 + 1,240 tokens), both padded to 3,720: 33% padding.
  const int64_t rows_needed = (total + cap - 1) / cap;
  int64_t c = std::min(cap, std::max(longest, (total + rows_needed - 1) / rows_needed));
  std::vector<std::vector<size_t>> rows = pack_bfd(lengths, c);
  while (static_cast<int64_t>(rows.size()) > rows_needed && c < cap) {
    c = std::min(cap, c + std::max<int64_t>(1, c / 32));
    rows = pack_bfd(lengths, c);
  }
  for (auto& r : rows) std::sort(r.begin(), r.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.front() < b.front(); });
  return rows;
}

namespace {
int64_t example_length(const TokenizedDataset& d, size_t i) {
  return static_cast<int64_t>(d.prompt(i).size() + d.chosen(i).size());
}
}  // namespace

std::vector<std::vector<size_t>> padding_free_sft_rows(const TokenizedDataset& data, const std::vector<size_t>& examples,
                                                       int64_t row_tokens) {
  std::vector<int64_t> lengths;
  for (size_t e : examples) lengths.push_back(example_length(data, e));
  std::vector<std::vector<size_t>> rows = padding_free_rows(lengths, row_tokens);
  for (auto& row : rows)
    for (size_t& k : row) k = examples[k];
  return rows;
}

Packing pack_examples(const TokenizedDataset& data, int64_t max_length) {
  std::vector<int64_t> lengths(data.size());
  for (size_t i = 0; i < data.size(); ++i) lengths[i] = example_length(data, i);
  Packing p;
  p.bins = pack_bfd(lengths, max_length > 0 ? max_length : *std::max_element(lengths.begin(), lengths.end()));
  p.bin_of.assign(data.size(), 0);
  for (size_t b = 0; b < p.bins.size(); ++b)
    for (size_t e : p.bins[b]) p.bin_of[e] = b;
  return p;
}

std::vector<std::vector<size_t>> packed_epoch_batches(const Packing& p, const SamplerOptions& o, int64_t epoch) {
  std::vector<size_t> order(p.bins.size());
  std::iota(order.begin(), order.end(), size_t{0});
  if (o.shuffle) {
    SplitMix64 rng(o.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1);
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  }
  std::vector<std::vector<size_t>> out;
  for (size_t s = 0; s < order.size(); s += static_cast<size_t>(o.batch_size)) {
    if (o.drop_last && s + static_cast<size_t>(o.batch_size) > order.size()) break;
    std::vector<size_t> mb;
    for (size_t k = s; k < std::min(order.size(), s + static_cast<size_t>(o.batch_size)); ++k)
      mb.insert(mb.end(), p.bins[order[k]].begin(), p.bins[order[k]].end());
    out.push_back(std::move(mb));
  }
  return out;
}

int64_t sft_scored_tokens(const TokenizedDataset& d, size_t i, bool score_prompt) {
  const int64_t p = static_cast<int64_t>(d.prompt(i).size()), c = static_cast<int64_t>(d.chosen(i).size());
  if (score_prompt) return std::max<int64_t>(p + c - 1, 0);
  return p > 0 ? c : std::max<int64_t>(c - 1, 0);
}

Batch make_sft_batch(const TokenizedDataset& data, const std::vector<std::vector<size_t>>& rows, const BatchOptions& opt,
                     bool score_prompt) {
  if (rows.empty()) throw Error("empty batch");
  Batch b;
  b.kind = BatchLayout::Concatenated;
  int64_t T = 0;
  bool packed = false;
  for (const auto& r : rows) {
    int64_t n = 0;
    for (size_t e : r) n += example_length(data, e);
    T = std::max(T, n);
    packed = packed || r.size() > 1;
  }
  const int64_t R = static_cast<int64_t>(rows.size());
  T = padded_length(T, R, opt);
  at::Tensor ids = at::full({R, T}, opt.pad_id, at::kLong), pos = at::zeros({R, T}, at::kLong), key = at::zeros({R, T}, at::kBool);
  at::Tensor vis = packed ? at::zeros({R, T, T}, at::kBool) : at::Tensor();
  auto ia = ids.accessor<int64_t, 2>();
  auto pa = pos.accessor<int64_t, 2>();
  auto ka = key.accessor<bool, 2>();
  std::vector<int64_t> src, tgt, seq;
  int64_t s = 0;
  for (int64_t r = 0; r < R; ++r) {
    int64_t total = 0;
    for (size_t e : rows[static_cast<size_t>(r)]) total += example_length(data, e);
    const int64_t off = opt.pad_side == PadSide::Left ? T - total : 0;
    int64_t t0 = off;
    for (size_t e : rows[static_cast<size_t>(r)]) {
      auto p = data.prompt(e), c = data.chosen(e);
      const int64_t P = static_cast<int64_t>(p.size()), n = P + static_cast<int64_t>(c.size());
      for (int64_t k = 0; k < n; ++k) {
        ia[r][t0 + k] = k < P ? p[static_cast<size_t>(k)] : c[static_cast<size_t>(k - P)];
        pa[r][t0 + k] = k;
        ka[r][t0 + k] = true;
        // The token at k is predicted from slot k - 1 of the same example (none for its first token).
        if (k >= 1 && (score_prompt || k >= P)) {
          src.push_back(r * T + t0 + k - 1);
          tgt.push_back(ia[r][t0 + k]);
          seq.push_back(s);
        }
      }
      if (packed) {
        auto va = vis.accessor<bool, 3>();
        for (int64_t q = 0; q < n; ++q)
          for (int64_t k = 0; k <= q; ++k) va[r][t0 + q][t0 + k] = true;
      }
      b.examples.push_back(e);
      b.real_tokens += n;
      t0 += n;
      ++s;
    }
  }
  b.ids = ids;
  b.positions = pos;
  b.layout.key_mask = key;
  b.layout.visibility = vis;
  auto to_tensor = [](const std::vector<int64_t>& v) { return at::tensor(at::ArrayRef<int64_t>(v), at::kLong); };
  b.score_source = to_tensor(src);
  b.score_target = to_tensor(tgt);
  b.score_sequence = to_tensor(seq);
  b.sequences = s;
  b.pairs = s;
  b.padded_tokens = R * T;
  return b;
}

}  // namespace prefer::data
