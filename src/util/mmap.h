// Read-only memory map of a whole file. Safetensors weights and token caches are read through it, so a
// tensor view is a pointer into the page cache, not a copy.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string_view>

namespace prefer {

class MappedFile {
 public:
  MappedFile() = default;
  // Maps `path` read-only. Throws prefer::Error naming the path when it cannot be opened or mapped.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data_), size_}; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void release() noexcept;
  std::filesystem::path path_;
  const std::byte* data_ = nullptr;  // nullptr for an empty file (mmap of length 0 is invalid)
  size_t size_ = 0;
};

}  // namespace prefer
