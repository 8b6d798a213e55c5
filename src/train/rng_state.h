// The random state a run needs for an exact resume: LibTorch's default CPU generator (dropout, sampling
// on CPU), each CUDA device's default generator when CUDA is present, and the caller's data-order position
// (the sampler is seeded separately, data/sampler.h). Saved as one small JSON file (`rng_state.json` in a
// checkpoint, as transformers' `rng_state.pth`), the generator states base64-encoded byte for byte.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace prefer::train {

// Where the data order stands: whatever the caller needs to rebuild it (seed, epoch, batch position).
struct DataOrder {
  uint64_t seed = 0;
  uint64_t epoch = 0;
  uint64_t position = 0;
};

// Writes the current generator states and `data` to `path` (atomically):
//   {"format": "prefer-rng-state", "version": 1, "cpu": "<base64>", "cuda": ["<base64>", ...],
//    "data": {"seed": .., "epoch": .., "position": ..}}
void save_rng_state(const std::filesystem::path& path, const DataOrder& data = {});

// Sets the generators back to the saved states and returns the saved data order. CUDA states are
// restored for the devices present in both the file and this process (a run resumed on a machine with
// fewer GPUs restores what it can; a CPU-only resume ignores them). A malformed file or a state LibTorch
// rejects throws prefer::Error naming the file and the entry.
DataOrder restore_rng_state(const std::filesystem::path& path);

// Base64 (RFC 4648, with padding) of bytes, and back; decoding throws prefer::Error on invalid input.
std::string base64_encode(const void* data, size_t n);
std::string base64_decode(std::string_view text);

}  // namespace prefer::train
