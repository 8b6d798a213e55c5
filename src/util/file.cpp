#include "util/file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util/error.h"

namespace prefer {

std::string read_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error("is a directory, expected a file", {.file = path.string()});
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(std::string("cannot open: ") + std::strerror(errno), {.file = path.string()});
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error("read failed", {.file = path.string()});
  return std::move(ss).str();
}

void require_exists(const std::filesystem::path& path, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw Error(what + " does not exist", {.file = path.string()});
}

}  // namespace prefer
