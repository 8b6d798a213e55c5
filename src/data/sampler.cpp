#include "data/sampler.h"

#include <algorithm>
#include <numeric>

namespace prefer::data {

uint64_t SplitMix64::next() {
  uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

namespace {
template <class T>
void shuffle(std::vector<T>& v, SplitMix64& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}
}  // namespace

std::vector<std::vector<size_t>> epoch_batches(const TokenizedDataset& data, const SamplerOptions& opt, int64_t epoch) {
  const size_t n = data.size();
  const size_t bs = static_cast<size_t>(std::max<int64_t>(opt.batch_size, 1));
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  SplitMix64 rng(opt.seed * 1000003ull + static_cast<uint64_t>(epoch));
  if (opt.shuffle) shuffle(order, rng);
  if (opt.group_by_length) {
    const size_t mega = bs * static_cast<size_t>(std::max<int64_t>(opt.mega_batch_mult, 1));
    for (size_t start = 0; start < n; start += mega) {
      auto b = order.begin() + static_cast<std::ptrdiff_t>(start);
      auto e = order.begin() + static_cast<std::ptrdiff_t>(std::min(n, start + mega));
      std::stable_sort(b, e, [&](size_t x, size_t y) { return data.max_row_length(x) > data.max_row_length(y); });
    }
  }
  std::vector<std::vector<size_t>> batches;
  for (size_t start = 0; start < n; start += bs) {
    size_t end = std::min(n, start + bs);
    if (end - start < bs && opt.drop_last) break;
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(start), order.begin() + static_cast<std::ptrdiff_t>(end));
  }
  // Grouping made batch order follow length; shuffle the batches (transformers keeps the longest first
  // to surface out-of-memory early: we keep that one in front).
  if (opt.shuffle && opt.group_by_length && batches.size() > 2) {
    std::vector<std::vector<size_t>> rest(batches.begin() + 1, batches.end());
    shuffle(rest, rng);
    std::copy(rest.begin(), rest.end(), batches.begin() + 1);
  }
  return batches;
}

double padding_fraction(const TokenizedDataset& data, const std::vector<std::vector<size_t>>& batches) {
  double real = 0, padded = 0;
  for (const auto& b : batches) {
    int64_t longest = 0, rows = 0;
    for (size_t e : b) {
      const auto& r = data.row(e);
      int64_t c = r.prompt_len - r.chosen_prompt_start + r.chosen_len;
      real += static_cast<double>(c);
      longest = std::max(longest, c);
      ++rows;
      if (r.paired) {
        int64_t j = r.prompt_len - r.rejected_prompt_start + r.rejected_len;
        real += static_cast<double>(j);
        longest = std::max(longest, j);
        ++rows;
      }
    }
    padded += static_cast<double>(longest * rows);
  }
  return padded > 0 ? 1.0 - real / padded : 0.0;
}

}  // namespace prefer::data
