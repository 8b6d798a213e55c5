#include "train/reference.h"

#include <ATen/ATen.h>

#include <cstring>
#include <iostream>

#include "data/sampler.h"
#include "io/safetensors.h"
#include "model/lora.h"
#include "train/batch_logps.h"
#include "train/distributed.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/progress.h"

namespace prefer::train {
namespace fs = std::filesystem;

Reference::Reference(model::CausalLM& policy, model::CausalLM* frozen, int64_t chunk_tokens)
    : policy_(policy), frozen_(frozen), chunk_tokens_(chunk_tokens) {}

ReferenceKind Reference::kind(const data::TokenizedDataset& data) const {
  if (tables_.count(&data)) return ReferenceKind::Table;
  return frozen_ != nullptr ? ReferenceKind::FrozenModel : ReferenceKind::AdaptersOff;
}

model::SequenceScores Reference::scores(const data::Batch& batch) {
  at::NoGradGuard no_grad;
  if (frozen_ != nullptr) return batch_logps(*frozen_, batch, chunk_tokens_);
  if (!model::has_lora(policy_) && !policy_is_reference_)
    throw Error("no reference model: full fine-tuning needs a frozen copy or --ref_model (or precompute_ref_log_probs)");
  model::AdaptersDisabled off(policy_);
  const bool was_training = policy_.mode().training;
  policy_.set_training(false);  // no dropout in the reference pass
  model::SequenceScores s = batch_logps(policy_, batch, chunk_tokens_);
  policy_.set_training(was_training);
  return s;
}

std::pair<at::Tensor, at::Tensor> Reference::sums(const data::TokenizedDataset& data, const std::vector<size_t>& examples,
                                                  const data::Batch& batch) {
  if (auto it = tables_.find(&data); it != tables_.end()) {
    std::vector<int64_t> idx(examples.begin(), examples.end());
    at::Tensor i = at::tensor(at::ArrayRef<int64_t>(idx), at::kLong);
    const ReferenceTable& t = it->second;
    return {t.chosen.index_select(0, i), t.rejected.defined() ? t.rejected.index_select(0, i) : at::Tensor()};
  }
  const int64_t B = static_cast<int64_t>(examples.size());
  at::Tensor s = scores(batch).sum.to(at::kDouble);
  return {s.slice(0, 0, B), batch.paired ? s.slice(0, B, 2 * B) : at::Tensor()};
}

void Reference::set_table(const data::TokenizedDataset& data, at::Tensor chosen, at::Tensor rejected) {
  tables_[&data] = {std::move(chosen), std::move(rejected), false};
}

void Reference::drop_frozen() { frozen_ = nullptr; }

std::vector<std::vector<size_t>> Reference::precompute_batches(const data::TokenizedDataset& data, int64_t batch_size) {
  return data::epoch_batches(data, {.batch_size = batch_size, .shuffle = false, .group_by_length = true}, 0);
}

const ReferenceTable& Reference::precompute(const data::TokenizedDataset& data, const data::BatchOptions& batch, uint64_t model_key,
                                            const fs::path& cache_dir, int64_t batch_size) {
  const std::string key = hex64(model_key) + "-" + hex64(data.content_hash());
  const fs::path file = cache_dir / "refs" / ("ref-" + key + ".safetensors");
  const int64_t n = static_cast<int64_t>(data.size());
  const bool paired = n > 0 && data.row(0).paired;
  tables_.erase(&data);
  ReferenceTable t;
  Distributed& dist = Distributed::get();
  // Workers agree on whether the cache is usable: all read it, or all compute (their shares).
  std::vector<double> have = {fs::exists(file) ? 1.0 : 0.0};
  dist.allreduce_sum(have);
  if (have[0] == dist.world()) {
    bool good = false;
    try {
      io::SafetensorsFile st(file);
      if (st.metadata().count("key") && st.metadata().at("key") == key) {
        auto read = [&](const char* name) {
          io::TensorView v = st.view(name);
          if (v.info->dtype != io::DType::F64 || v.info->shape.size() != 1) throw Error("not a table of log-probs");
          at::Tensor out = at::empty({v.info->shape[0]}, at::kDouble);
          std::memcpy(out.data_ptr(), v.data, v.nbytes);
          return out;
        };
        t.chosen = read("ref_chosen_logps");
        if (paired) t.rejected = read("ref_rejected_logps");
        good = t.chosen.size(0) == n && (!paired || t.rejected.size(0) == n);
      }
    } catch (const std::exception&) {
      good = false;  // damaged: recompute
    }
    std::vector<double> ok = {good ? 1.0 : 0.0};
    dist.allreduce_sum(ok);  // every rank takes part, whatever it found
    if (ok[0] == dist.world()) {
      t.from_cache = true;
      return tables_[&data] = t;
    }
  }
  // Data parallel: batch i is rank (i mod workers)'s; the others' entries stay 0 and one all-reduce
  // (a sum) gathers the whole table on every rank.
  t.chosen = at::zeros({n}, at::kDouble);
  if (paired) t.rejected = at::zeros({n}, at::kDouble);
  auto batches = precompute_batches(data, batch_size);
  std::ostream quiet(nullptr);
  ProgressBar bar(static_cast<int64_t>(batches.size()),
                  {.label = "reference log-probs", .unit = "batches", .tty = dist.main_process() && stdout_is_terminal()},
                  dist.main_process() ? std::cout : quiet);
  size_t i = 0;
  for (const auto& b : batches) {
    if (static_cast<int>(i++ % static_cast<size_t>(dist.world())) != dist.rank()) {
      bar.advance();
      continue;
    }
    auto [c, r] = sums(data, b, data::make_batch(data, b, batch));
    for (size_t k = 0; k < b.size(); ++k) {
      t.chosen[static_cast<int64_t>(b[k])] = c[static_cast<int64_t>(k)];
      if (paired) t.rejected[static_cast<int64_t>(b[k])] = r[static_cast<int64_t>(k)];
    }
    bar.advance();
  }
  bar.finish();
  std::vector<at::Tensor> parts{t.chosen};
  if (paired) parts.push_back(t.rejected);
  dist.allreduce_sum(parts);
  fs::create_directories(file.parent_path());
  std::vector<io::TensorData> out = {{"ref_chosen_logps", io::DType::F64, {n}, t.chosen.data_ptr(), static_cast<size_t>(n) * 8}};
  if (paired) out.push_back({"ref_rejected_logps", io::DType::F64, {n}, t.rejected.data_ptr(), static_cast<size_t>(n) * 8});
  io::write_safetensors(file, out, {{"format", "prefer-ref-logps"}, {"key", key}});
  return tables_[&data] = t;
}

}  // namespace prefer::train
