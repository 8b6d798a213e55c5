// tokenizer.json: the pipeline (normalizer, pre-tokenizer, model, post-processor, decoder) built from
// hostile JSON, then used to encode and decode a fixed text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "text/tokenizer.h"
#include "util/error.h"
#include "util/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    prefer::Json j = prefer::parse_json(std::string_view(reinterpret_cast<const char*>(data), size), {.file = "tokenizer.json"});
    prefer::text::Tokenizer tok = prefer::text::Tokenizer::from_json(j, {}, "tokenizer.json");
    std::vector<int32_t> ids = tok.encode("Hello, world! ça va? 1234 <|im_start|>user\n", true);
    (void)tok.decode(ids, false);
  } catch (const prefer::Error&) {
  }
  return 0;
}
