#include "util/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>
#include <string>

#include "util/error.h"

namespace prefer {
namespace fs = std::filesystem;

namespace {

// pid + counter + random: unique among concurrent writers (threads, processes, ranks) to one folder.
std::string unique_suffix() {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t salt = std::random_device{}();
  return std::to_string(::getpid()) + "." + std::to_string(counter++) + "." + std::to_string(salt % 1000000);
}

[[noreturn]] void fail(const std::string& what, const fs::path& path, int err) {
  throw Error(what + ": " + std::strerror(err), {.file = path.string()});
}

}  // namespace

void fsync_directory(const fs::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("cannot open folder to sync", dir, errno);
  ::fsync(fd);  // some filesystems refuse fsync on folders; the rename is still ordered on the common ones
  ::close(fd);
}

AtomicFile::AtomicFile(fs::path final_path) : final_(std::move(final_path)) {
  temp_ = final_;
  temp_ += ".tmp." + unique_suffix();
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("cannot create file", temp_, errno);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_.c_str());
  }
}

void AtomicFile::write(const void* data, size_t n) {
  if (fd_ < 0) throw Error("write after commit", {.file = final_.string()});
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("write failed", temp_, errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) throw Error("commit called twice", {.file = final_.string()});
  if (::fsync(fd_) != 0) fail("fsync failed", temp_, errno);
  if (::close(fd_) != 0) {
    fd_ = -1;
    ::unlink(temp_.c_str());
    fail("close failed", temp_, errno);
  }
  fd_ = -1;
  if (::rename(temp_.c_str(), final_.c_str()) != 0) {
    int err = errno;
    ::unlink(temp_.c_str());
    fail("cannot rename into place", final_, err);
  }
  fsync_directory(final_.parent_path());
}

void write_file_atomic(const fs::path& path, std::string_view content) {
  AtomicFile f(path);
  f.write(content);
  f.commit();
}

AtomicDirectory::AtomicDirectory(fs::path final_path) : final_(std::move(final_path)) {
  staging_ = final_;
  staging_ += ".tmp." + unique_suffix();
  std::error_code ec;
  fs::create_directories(staging_, ec);
  if (ec) throw Error("cannot create folder: " + ec.message(), {.file = staging_.string()});
}

AtomicDirectory::~AtomicDirectory() {
  if (!committed_) {
    std::error_code ec;
    fs::remove_all(staging_, ec);
  }
}

void AtomicDirectory::commit() {
  if (committed_) throw Error("commit called twice", {.file = final_.string()});
  std::error_code ec;
  fs::path old;
  if (fs::exists(final_, ec)) {
    old = final_;
    old += ".old." + unique_suffix();
    fs::rename(final_, old, ec);
    if (ec) throw Error("cannot move the previous folder aside: " + ec.message(), {.file = final_.string()});
  }
  fs::rename(staging_, final_, ec);
  if (ec) throw Error("cannot rename folder into place: " + ec.message(), {.file = final_.string()});
  committed_ = true;
  fsync_directory(final_.parent_path());
  if (!old.empty()) fs::remove_all(old, ec);
}

}  // namespace prefer
