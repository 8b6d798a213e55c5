// Parquet bytes, as a Hub dataset file would hold them.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "io/columnar.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    prefer::io::read_parquet_rows(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.parquet",
                                [](prefer::OrderedJson&& r, int64_t) { (void)r.dump(); });
  } catch (const prefer::Error&) {
  }
  return 0;
}
