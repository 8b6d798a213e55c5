// A PEFT adapter with random B (add_lora starts B at 0, which would change nothing), for export tests.
#pragma once

#include <ATen/ATen.h>

#include <filesystem>

#include "model/loader.h"
#include "model/lora.h"

namespace prefer::test {

inline void write_random_adapter(const std::filesystem::path& base, const std::filesystem::path& dir, const model::LoraConfig& c,
                                 uint64_t seed = 3) {
  model::CausalLM m = model::load_model(base);
  model::add_lora(m, c, seed);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed + 1);
  at::NoGradGuard ng;
  for (auto& [name, t] : model::lora_parameters(m, c))
    if (name.find("lora_B") != std::string::npos) t.copy_(at::normal(0.0, 0.05, t.sizes(), gen));
  model::save_adapter(m, c, dir);
}

}  // namespace prefer::test
