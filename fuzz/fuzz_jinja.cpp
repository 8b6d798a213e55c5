// A chat template: lexed, parsed and rendered against a fixed conversation.
#include <cstddef>
#include <cstdint>
#include <string>

#include "text/chat_template.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nlohmann::ordered_json messages = nlohmann::ordered_json::parse(
      R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}])");
  try {
    prefer::text::ChatTemplate t = prefer::text::ChatTemplate::parse(std::string(reinterpret_cast<const char*>(data), size), "fuzz.jinja");
    prefer::text::ChatRenderOptions ro;
    ro.add_generation_prompt = true;
    ro.bos_token = "<s>";
    ro.eos_token = "</s>";
    ro.clock = [] { return std::time_t{0}; };
    (void)t.render(messages, ro);
  } catch (const prefer::Error&) {
  }
  return 0;
}
