#include "train/reference_table.h"

#include <ATen/ATen.h>

#include "data/sampler.h"
#include "io/safetensors.h"
#include "util/hash.h"
#include "util/progress.h"

#include <cstring>
#include <iostream>
#include <set>

namespace prefer::train {
namespace fs = std::filesystem;

ReferenceTable reference_table(DpoRecipe& recipe, const data::TokenizedDataset& data, uint64_t reference_key,
                               const fs::path& cache_dir, int64_t batch_size) {
  const std::string key = hex64(reference_key) + "-" + hex64(data.content_hash());
  const fs::path file = cache_dir / "refs" / ("ref-" + key + ".safetensors");
  ReferenceTable t;
  if (fs::exists(file)) {
    try {
      io::SafetensorsFile st(file);
      if (st.metadata().count("key") && st.metadata().at("key") == key) {
        auto read = [&](const char* name) {
          io::TensorView v = st.view(name);
          at::Tensor out = at::empty({v.info->shape[0]}, at::kDouble);
          std::memcpy(out.data_ptr(), v.data, v.nbytes);
          return out;
        };
        t.chosen = read("ref_chosen_logps");
        t.rejected = read("ref_rejected_logps");
        if (t.chosen.size(0) == static_cast<int64_t>(data.size())) {
          t.from_cache = true;
          return t;
        }
      }
    } catch (const std::exception&) {
      // damaged: recompute
    }
  }
  recipe.clear_reference_table();
  const int64_t n = static_cast<int64_t>(data.size());
  t.chosen = at::empty({n}, at::kDouble);
  t.rejected = at::empty({n}, at::kDouble);
  data::SamplerOptions so{.batch_size = batch_size, .shuffle = false, .group_by_length = true};
  auto batches = data::epoch_batches(data, so, 0);
  ProgressBar bar(static_cast<int64_t>(batches.size()), {.label = "reference log-probs", .unit = "batches", .tty = stdout_is_terminal()},
                  std::cout);
  for (const auto& b : batches) {
    auto [c, r] = recipe.reference_logps(data, b);
    for (size_t k = 0; k < b.size(); ++k) {
      t.chosen[static_cast<int64_t>(b[k])] = c[static_cast<int64_t>(k)];
      t.rejected[static_cast<int64_t>(b[k])] = r[static_cast<int64_t>(k)];
    }
    bar.advance();
  }
  bar.finish();
  fs::create_directories(file.parent_path());
  io::write_safetensors(file,
                        {{"ref_chosen_logps", io::DType::F64, {n}, t.chosen.data_ptr(), static_cast<size_t>(n) * 8},
                         {"ref_rejected_logps", io::DType::F64, {n}, t.rejected.data_ptr(), static_cast<size_t>(n) * 8}},
                        {{"format", "prefer-ref-logps"}, {"key", key}});
  return t;
}

}  // namespace prefer::train
