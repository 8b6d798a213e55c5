#include "data/token_cache.h"

#include <cmath>
#include <cstring>
#include <memory>

#include "io/safetensors.h"
#include "util/hash.h"

namespace prefer::data {
namespace fs = std::filesystem;

namespace {
constexpr int64_t kCols = 11;
constexpr int kFormatVersion = 1;
}  // namespace

fs::path cache_path(const fs::path& dir, const Json& key) {
  return dir / ("tokens-" + hex64(hash_bytes(key.dump())) + ".safetensors");
}

std::optional<CachedTokens> load_cached_tokens(const fs::path& file, const Json& key) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  try {
    auto st = std::make_shared<io::SafetensorsFile>(file);
    const auto& meta = st->metadata();
    if (!meta.count("key") || Json::parse(meta.at("key")) != key) return std::nullopt;  // hash collision or stale
    if (!meta.count("version") || meta.at("version") != std::to_string(kFormatVersion)) return std::nullopt;
    io::TensorView tokens = st->view("tokens"), rows = st->view("rows"), margin = st->view("margin");
    if (tokens.info->dtype != io::DType::I32 || rows.info->dtype != io::DType::I64 || rows.info->shape.size() != 2 ||
        rows.info->shape[1] != kCols)
      return std::nullopt;
    const int64_t n = rows.info->shape[0];
    std::vector<TokenizedDataset::Row> out(static_cast<size_t>(n));
    // Row values are copied (small); the tokens stay in the mapping. Our writer aligns the data area.
    std::vector<int64_t> r(static_cast<size_t>(n * kCols));
    std::memcpy(r.data(), rows.data, rows.nbytes);
    std::vector<double> m(static_cast<size_t>(n));
    std::memcpy(m.data(), margin.data, margin.nbytes);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t* v = &r[static_cast<size_t>(i * kCols)];
      TokenizedDataset::Row& row = out[static_cast<size_t>(i)];
      row.line = v[0];
      row.prompt_off = v[1];
      row.prompt_len = v[2];
      row.chosen_off = v[3];
      row.chosen_len = v[4];
      row.rejected_off = v[5];
      row.rejected_len = v[6];
      row.chosen_prompt_start = static_cast<int32_t>(v[7]);
      row.rejected_prompt_start = static_cast<int32_t>(v[8]);
      row.label = static_cast<int8_t>(v[9]);
      row.paired = (v[10] & 1) != 0;
      row.truncated = (v[10] & 2) != 0;
      row.margin = m[static_cast<size_t>(i)];
    }
    std::span<const int32_t> span(reinterpret_cast<const int32_t*>(tokens.data), tokens.nbytes / sizeof(int32_t));
    if (reinterpret_cast<uintptr_t>(tokens.data) % alignof(int32_t) != 0) return std::nullopt;
    CachedTokens c{TokenizedDataset::view(span, std::move(out), st), Json::parse(meta.count("stats") ? meta.at("stats") : "{}")};
    return c;
  } catch (const std::exception&) {
    return std::nullopt;  // a damaged cache file is rebuilt, never trusted
  }
}

void save_cached_tokens(const fs::path& file, const Json& key, const TokenizedDataset& data, const Json& stats) {
  fs::create_directories(file.parent_path());
  const int64_t n = static_cast<int64_t>(data.size());
  std::vector<int64_t> rows(static_cast<size_t>(n * kCols));
  std::vector<double> margin(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const auto& r = data.row(static_cast<size_t>(i));
    int64_t* v = &rows[static_cast<size_t>(i * kCols)];
    v[0] = r.line;
    v[1] = r.prompt_off;
    v[2] = r.prompt_len;
    v[3] = r.chosen_off;
    v[4] = r.chosen_len;
    v[5] = r.rejected_off;
    v[6] = r.rejected_len;
    v[7] = r.chosen_prompt_start;
    v[8] = r.rejected_prompt_start;
    v[9] = r.label;
    v[10] = (r.paired ? 1 : 0) | (r.truncated ? 2 : 0);
    margin[static_cast<size_t>(i)] = r.margin;
  }
  auto tokens = data.tokens();
  io::write_safetensors(file,
                        {{"tokens", io::DType::I32, {static_cast<int64_t>(tokens.size())}, tokens.data(), tokens.size_bytes()},
                         {"rows", io::DType::I64, {n, kCols}, rows.data(), rows.size() * sizeof(int64_t)},
                         {"margin", io::DType::F64, {n}, margin.data(), margin.size() * sizeof(double)}},
                        {{"format", "prefer-tokens"}, {"version", std::to_string(kFormatVersion)}, {"key", key.dump()},
                         {"stats", stats.dump()}});
}

}  // namespace prefer::data
