// GGUF (version 3), the file format of llama.cpp, Ollama and LM Studio: written from the format's
// specification (ggml/docs/gguf.md), read back for tests and `inspect`.
//
// Layout, little-endian: "GGUF", uint32 version, uint64 tensor count, uint64 metadata count; the
// metadata as (string key, uint32 type, value); per tensor (string name, uint32 n_dims, uint64 ne[n_dims]
// innermost first, uint32 ggml type, uint64 offset into the data section); padding to
// general.alignment (32 unless set); the data section, each tensor at a multiple of the alignment.
// Strings are uint64 length + bytes (no terminator). A PyTorch [out, in] weight has ne = {in, out}.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace prefer::io {

enum class GgmlType : uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8, BF16 = 30 };
std::string_view ggml_type_name(GgmlType t);
// Values per block and bytes per block (1 and the element size for the float types).
int64_t ggml_block_size(GgmlType t);
int64_t ggml_block_bytes(GgmlType t);
// Bytes of a tensor with `ne[0]` (a multiple of the block size) x the rest.
int64_t ggml_nbytes(GgmlType t, const std::vector<int64_t>& ne);

// A metadata value: the scalar types prefer writes, strings, and arrays of them.
using GgufArray = std::variant<std::vector<std::string>, std::vector<int32_t>, std::vector<float>>;
using GgufValue = std::variant<uint32_t, int32_t, float, bool, std::string, uint64_t, GgufArray>;

struct GgufTensor {
  std::string name;
  std::vector<int64_t> ne;  // ggml order: ne[0] is the innermost (contiguous) dimension
  GgmlType type = GgmlType::F32;
  std::string data;         // ggml_nbytes(type, ne) bytes
};

struct GgufFile {
  std::vector<std::pair<std::string, GgufValue>> metadata;  // in file order
  std::vector<GgufTensor> tensors;                          // in file order

  const GgufValue* find(const std::string& key) const;
  const GgufTensor* tensor(const std::string& name) const;
};

// Writes atomically. Throws prefer::Error for a duplicate key or tensor name, or data of the wrong size.
void write_gguf(const std::filesystem::path& path, const GgufFile& file);

// Reads and validates (magic, version 2 or 3, counts and sizes within the file, offsets aligned and
// inside the data section, no overlap). Errors name the file and the key or tensor.
GgufFile read_gguf(const std::filesystem::path& path);

}  // namespace prefer::io
