// Atomic writes: a crash never leaves a half-written file (or checkpoint folder) under its final name.
//
// Files: write to a temporary in the same directory, fsync it, rename over the final name, fsync the
// directory. Folders: build everything in a temporary sibling folder, then rename it into place.
#pragma once

#include <filesystem>
#include <string_view>

namespace prefer {

class AtomicFile {
 public:
  // Creates `<final>.tmp.<unique>` beside `final_path` (the parent folder must exist).
  explicit AtomicFile(std::filesystem::path final_path);
  ~AtomicFile();  // removes the temporary if commit() was not reached
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  // Flushes, fsyncs and renames onto the final name. After this the object is inert.
  void commit();

  const std::filesystem::path& temp_path() const { return temp_; }
  const std::filesystem::path& final_path() const { return final_; }

 private:
  std::filesystem::path final_;
  std::filesystem::path temp_;
  int fd_ = -1;
};

// One-shot helper: the whole content at once.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

// A folder that appears under its final name only when complete (checkpoints, final/ models).
// Files are written into staging(); commit() renames the staging folder onto the final name, replacing
// an existing folder of that name (the old one is moved aside first, then removed).
class AtomicDirectory {
 public:
  explicit AtomicDirectory(std::filesystem::path final_path);
  ~AtomicDirectory();  // removes the staging folder if commit() was not reached
  AtomicDirectory(const AtomicDirectory&) = delete;
  AtomicDirectory& operator=(const AtomicDirectory&) = delete;

  const std::filesystem::path& staging() const { return staging_; }
  void commit();

 private:
  std::filesystem::path final_;
  std::filesystem::path staging_;
  bool committed_ = false;
};

// fsync on a directory, so that a rename inside it survives a power cut.
void fsync_directory(const std::filesystem::path& dir);

}  // namespace prefer
