// A dataset file of any format, through the same dispatcher as --data (JSONL, JSON array, Arrow IPC,
// Parquet, chosen by the bytes), written to a temporary file as a user's would be.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "io/records.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/prefer-fuzz-records-" + std::to_string(::getpid()) + ".json";
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    prefer::io::for_each_record(path, [](prefer::OrderedJson&& r, const prefer::ErrorContext&) { (void)r.dump(); },
                                [](const prefer::Error&) {});
  } catch (const prefer::Error&) {
  }
  return 0;
}
