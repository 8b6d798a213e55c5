// `prefer demo`: the built-in tour, runnable on a fresh clone with no downloads.
//
// It grows with the project. Today it shows the layers that exist: the LibTorch runtime, reading and
// validating the bundled tiny Hugging Face model folders, and a sharded safetensors round trip.
#include <fmt/format.h>
#include <unistd.h>

#include <cstring>
#include <iostream>

#include "cli/command.h"
#include "cli/model_summary.h"
#include "io/checkpoint.h"
#include "model/runtime.h"
#include "util/error.h"
#include "util/timer.h"

#ifndef PREFER_FIXTURE_DIR
#error "PREFER_FIXTURE_DIR must point at tests/fixtures (set by CMake)"
#endif

namespace prefer::cli {
namespace fs = std::filesystem;

namespace {

// Writes every tensor of `src` into `dir` as shards of at most `shard_bytes`, reads them back and
// compares bytes. Returns the number of shard files.
size_t round_trip(const io::Checkpoint& src, const fs::path& dir, uint64_t shard_bytes) {
  std::vector<io::TensorData> tensors;
  for (const auto& name : src.names()) {
    io::TensorView v = src.view(name);
    tensors.push_back({name, v.info->dtype, v.info->shape, v.data, v.nbytes});
  }
  io::write_checkpoint(dir, tensors, shard_bytes);
  io::Checkpoint back = io::Checkpoint::open_folder(dir);
  if (back.names() != src.names()) throw Error("round trip lost tensors", {.file = dir.string()});
  for (const auto& name : src.names()) {
    io::TensorView a = src.view(name), b = back.view(name);
    if (a.nbytes != b.nbytes || std::memcmp(a.data, b.data, a.nbytes) != 0 || a.info->shape != b.info->shape)
      throw Error("round trip changed the tensor", {.file = back.file_of(name).string(), .field = name});
  }
  return back.shards().size();
}

}  // namespace

void add_demo_command(CLI::App& app, GlobalOptions& g) {
  auto models = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand("demo", "A tour of what prefer does, on the bundled tiny models");
  cmd->add_option("--model", *models, "Model folder(s) to show instead of the bundled ones");
  cmd->callback([models, &g] {
    apply_global_options(g);
    std::vector<fs::path> dirs(models->begin(), models->end());
    if (dirs.empty()) {
      fs::path base = fs::path(PREFER_FIXTURE_DIR) / "models";
      dirs = {base / "llama-tiny", base / "qwen2-tiny"};
    }
    std::cout << fmt::format("prefer demo: LibTorch {}, {} threads{}\n\n", model::torch_version(),
                             model::num_threads(), model::cuda_available() ? ", CUDA available" : "");

    std::cout << "1. Reading Hugging Face model folders (config.json, safetensors, tokenizer files)\n\n";
    for (const auto& d : dirs) {
      print_model_summary(summarize_model_folder(d, false), std::cout);
      std::cout << "\n";
    }

    std::cout << "2. Writing weights back as sharded safetensors, atomically, and re-reading them\n\n";
    fs::path tmp = fs::temp_directory_path() / fmt::format("prefer-demo-{}", ::getpid());
    fs::create_directories(tmp);
    struct Cleanup {
      fs::path p;
      ~Cleanup() {
        std::error_code ec;
        fs::remove_all(p, ec);
      }
    } cleanup{tmp};
    for (const auto& d : dirs) {
      io::Checkpoint src = io::Checkpoint::open_folder(d);
      fs::path out = tmp / d.filename();
      fs::create_directories(out);
      Stopwatch sw;
      uint64_t shard_bytes = std::max<uint64_t>(src.total_bytes() / 3, 1);
      size_t n = round_trip(src, out, shard_bytes);
      std::cout << fmt::format("  {:<12} {} tensors -> {} shards + model.safetensors.index.json, re-read bit-exact ({:.1f} ms)\n",
                               d.filename().string(), src.names().size(), n, sw.seconds() * 1e3);
    }
    std::cout << "\nNext in this tour, as the project grows: tokenizing with the model's chat template, scoring\n"
                 "responses, and a DPO run that prints its metrics and win rate.\n";
  });
}

}  // namespace prefer::cli
