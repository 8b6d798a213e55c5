// Training state files (optimizer moments, fp32 master weights, RNG states) as safetensors: named tensors
// plus string metadata, written atomically. The bytes are exactly the tensors' bytes, so a state saved
// and loaded again is bit-identical, which is what an exact resume needs.
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <map>
#include <string>

namespace prefer::train {

struct StateFile {
  std::map<std::string, at::Tensor> tensors;  // CPU, contiguous, owning (copied out of the mapping)
  std::map<std::string, std::string> metadata;
};

// Writes `tensors` (any device; copied to CPU) with `metadata` plus {"format": "pt"}. Supported dtypes:
// bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64; others throw prefer::Error
// naming the tensor.
void write_state_file(const std::filesystem::path& path, const std::map<std::string, at::Tensor>& tensors,
                      std::map<std::string, std::string> metadata = {});

// Reads every tensor and the metadata. Errors (missing file, malformed safetensors) name the file.
StateFile read_state_file(const std::filesystem::path& path);

// A required metadata entry parsed as an integer; a missing or malformed one throws naming file and key.
int64_t state_metadata_int(const StateFile& state, const std::string& key, const std::filesystem::path& path);

// The tensor `name` of `state`; a missing one throws naming file and tensor.
const at::Tensor& state_tensor(const StateFile& state, const std::string& name, const std::filesystem::path& path);

}  // namespace prefer::train
