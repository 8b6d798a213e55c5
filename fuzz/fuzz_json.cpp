// JSON and JSONL as every reader of user files parses them (depth limit included).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "util/error.h"
#include "util/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    prefer::OrderedJson v = prefer::parse_ordered_json(text, {.file = "fuzz.json"});
    (void)v.dump();
  } catch (const prefer::Error&) {
  }
  return 0;
}
