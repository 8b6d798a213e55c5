#include "train/dataset_scores.h"

#include <ATen/ATen.h>

#include <iostream>
#include <optional>

#include "data/batch.h"
#include "train/batch_logps.h"
#include "train/reward_recipe.h"
#include "util/progress.h"

namespace prefer::train {

namespace {

// Calls `fn(batch, examples)` for consecutive batches of `batch_size` examples, with a progress bar.
template <class F>
void for_batches(const data::TokenizedDataset& d, int64_t batch_size, const data::BatchOptions& bo, const std::string& label, F&& fn) {
  at::NoGradGuard no_grad;
  const size_t n = d.size();
  std::optional<ProgressBar> bar;
  if (!label.empty()) bar.emplace(static_cast<int64_t>(n), ProgressOptions{.label = label, .unit = "examples", .tty = stdout_is_terminal()}, std::cerr);
  for (size_t start = 0; start < n; start += static_cast<size_t>(batch_size)) {
    std::vector<size_t> ex;
    for (size_t i = start; i < std::min(n, start + static_cast<size_t>(batch_size)); ++i) ex.push_back(i);
    fn(data::make_batch(d, ex, bo), ex);
    if (bar) bar->advance(static_cast<int64_t>(ex.size()));
  }
  if (bar) bar->finish();
}

}  // namespace

DatasetLogps dataset_logps(const model::CausalLM& m, const data::TokenizedDataset& d, int64_t batch_size, int64_t chunk, const std::string& label) {
  const size_t n = d.size();
  DatasetLogps s{std::vector<double>(2 * n, 0.0), std::vector<int64_t>(2 * n, 0)};
  for_batches(d, batch_size, {}, label, [&](const data::Batch& b, const std::vector<size_t>& ex) {
    model::SequenceScores lp = batch_logps(m, b, chunk);
    at::Tensor sum = lp.sum.to(at::kDouble).cpu();
    at::Tensor count = lp.count.cpu();
    const int64_t B = b.pairs;
    for (int64_t k = 0; k < B; ++k) {
      const size_t e = ex[static_cast<size_t>(k)];
      s.sum[e] = sum[k].item<double>();
      s.count[e] = count[k].item<int64_t>();
      if (b.paired) {
        s.sum[n + e] = sum[B + k].item<double>();
        s.count[n + e] = count[B + k].item<int64_t>();
      }
    }
  });
  return s;
}

DatasetRewards dataset_rewards(const model::CausalLM& m, const data::TokenizedDataset& d, int64_t batch_size, int64_t pad_id, const std::string& label) {
  const size_t n = d.size();
  DatasetRewards s{std::vector<double>(n, 0.0), std::vector<double>(n, 0.0)};
  for_batches(d, batch_size, {.pad_id = static_cast<int32_t>(pad_id)}, label, [&](const data::Batch& b, const std::vector<size_t>& ex) {
    at::Tensor r = row_rewards(m, b).to(at::kDouble).cpu();
    const int64_t B = static_cast<int64_t>(ex.size());
    for (int64_t k = 0; k < B; ++k) {
      s.first[ex[static_cast<size_t>(k)]] = r[k].item<double>();
      if (b.paired) s.second[ex[static_cast<size_t>(k)]] = r[B + k].item<double>();
    }
  });
  return s;
}

}  // namespace prefer::train
