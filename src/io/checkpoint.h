// A model's weights as one name → tensor map, whether saved as one `model.safetensors` or sharded
// through `model.safetensors.index.json` (`{"metadata": {"total_size": N}, "weight_map": {name: shard}}`).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace prefer::io {

class Checkpoint {
 public:
  // Opens `<dir>/model.safetensors.index.json` if present, else `<dir>/model.safetensors`. A folder with
  // neither is an error that lists the files it does have. For an index, every shard it names must exist
  // and hold the tensors the index assigns to it.
  static Checkpoint open_folder(const std::filesystem::path& dir);
  // One .safetensors file, or one index file.
  static Checkpoint open_file(const std::filesystem::path& path);

  // Sorted tensor names over all shards.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return where_.count(name) > 0; }
  const TensorInfo& info(const std::string& name) const;
  TensorView view(const std::string& name) const;
  // The file holding `name` (for error messages).
  const std::filesystem::path& file_of(const std::string& name) const;

  const std::vector<std::unique_ptr<SafetensorsFile>>& shards() const { return shards_; }
  // The index file, empty for a single-file checkpoint.
  const std::filesystem::path& index_path() const { return index_; }
  uint64_t total_bytes() const;
  int64_t total_elements() const;

 private:
  std::filesystem::path index_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, size_t> where_;  // tensor name -> shard
};

// Writes `tensors` as one file when they fit in `max_shard_bytes`, else as HF-style shards
// `model-00001-of-0000N.safetensors` plus `model.safetensors.index.json`. Each file is atomic; the index
// is written last, so a reader never sees an index whose shards are not complete.
void write_checkpoint(const std::filesystem::path& dir, std::vector<TensorData> tensors,
                      uint64_t max_shard_bytes = 5ull << 30);

}  // namespace prefer::io
