// A stable 64-bit content hash (FNV-1a) for cache keys: the same bytes give the same key on every
// machine and run. Not for security.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace prefer {

class Hasher {
 public:
  Hasher& update(std::string_view bytes);
  Hasher& update(const void* data, size_t n) { return update(std::string_view(static_cast<const char*>(data), n)); }
  uint64_t digest() const { return h_; }
  std::string hex() const;  // 16 lowercase hex digits

 private:
  uint64_t h_ = 14695981039346656037ull;  // FNV-1a 64 offset basis
};

uint64_t hash_bytes(std::string_view bytes);
// Hash of a file's content (memory-mapped); throws naming the file when it cannot be read.
uint64_t hash_file(const std::filesystem::path& path);
std::string hex64(uint64_t v);

}  // namespace prefer
