#include "util/hash.h"

#include <cstdio>

#include "util/mmap.h"

namespace prefer {

Hasher& Hasher::update(std::string_view bytes) {
  uint64_t h = h_;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h_ = h;
  return *this;
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string Hasher::hex() const { return hex64(h_); }

uint64_t hash_bytes(std::string_view bytes) { return Hasher().update(bytes).digest(); }

uint64_t hash_file(const std::filesystem::path& path) {
  MappedFile m(path);
  return hash_bytes(m.view());
}

}  // namespace prefer
