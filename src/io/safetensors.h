// safetensors: the weight format of Hugging Face model folders.
//
// Layout: u64 little-endian header length N, N bytes of JSON header ({"__metadata__": {str: str},
// name: {"dtype", "shape", "data_offsets": [begin, end]}}), then the data area; offsets are relative to
// the data area. Reading memory-maps the file and hands out zero-copy views after validating everything
// the format promises; writing is atomic and byte-compatible with the Python `safetensors` package
// (metadata first, header padded with spaces to a multiple of 8, tensors in name order).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "io/dtype.h"
#include "util/mmap.h"

namespace prefer::io {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets in the data area
  uint64_t end = 0;

  int64_t numel() const;
  uint64_t nbytes() const { return end - begin; }
};

// A tensor's bytes inside a mapped file: valid while the SafetensorsFile lives. Files whose writer
// padded the header (all Python-written ones, and ours) give 8-byte aligned data; others need not, so
// consumers copy (memcpy / tensor clone) rather than dereference typed pointers.
struct TensorView {
  const TensorInfo* info = nullptr;
  const std::byte* data = nullptr;
  size_t nbytes = 0;
};

class SafetensorsFile {
 public:
  // Maps and validates `path`. Every violation throws prefer::Error naming the file and, where there is
  // one, the tensor.
  explicit SafetensorsFile(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return map_.path(); }
  // Tensors in name order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return index_.count(name) > 0; }
  const TensorInfo* find(const std::string& name) const;
  // Throws when `name` is not in the file.
  TensorView view(const std::string& name) const;
  TensorView view(const TensorInfo& info) const;

 private:
  MappedFile map_;
  size_t data_start_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write: bytes in row-major order, `nbytes` must equal numel * dtype size.
struct TensorData {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;
};

// Writes `tensors` (sorted by name on disk) atomically. `metadata` defaults to {"format": "pt"}, which
// transformers requires to load the file. Throws on duplicate names or a size that does not match.
void write_safetensors(const std::filesystem::path& path, std::vector<TensorData> tensors,
                       std::map<std::string, std::string> metadata = {{"format", "pt"}});

// The header bytes (length prefix + padded JSON) that write_safetensors would write; exposed for tests.
std::string safetensors_header(const std::vector<TensorData>& sorted_tensors,
                               const std::map<std::string, std::string>& metadata);

}  // namespace prefer::io
