// Whole-file reads with errors that name the file.
#pragma once

#include <filesystem>
#include <string>

namespace prefer {

// Reads the whole file as bytes. Throws prefer::Error naming the path when it cannot be opened or read.
std::string read_file(const std::filesystem::path& path);

// Throws prefer::Error (naming `what`, e.g. "model folder") when `path` does not exist.
void require_exists(const std::filesystem::path& path, const std::string& what);

}  // namespace prefer
