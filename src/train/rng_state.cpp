#include "train/rng_state.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>

#include <array>
#include <cstring>
#include <mutex>
#include <vector>

#include "util/error.h"
#include "util/json.h"

namespace prefer::train {
namespace fs = std::filesystem;

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr const char* kFormat = "prefer-rng-state";

std::string generator_state(at::Generator gen) {
  at::Tensor s;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());  // as torch's Python binding does
    s = gen.get_state();                             // uint8 [n], CPU
  }
  s = s.contiguous();
  return base64_encode(s.data_ptr(), static_cast<size_t>(s.numel()));
}

void set_generator_state(at::Generator gen, const std::string& b64, const fs::path& path, const std::string& field) {
  const std::string bytes = base64_decode(b64);
  at::Tensor s = at::empty({static_cast<int64_t>(bytes.size())}, at::kByte);
  if (!bytes.empty()) std::memcpy(s.data_ptr(), bytes.data(), bytes.size());
  try {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(s);
  } catch (const c10::Error& e) {
    throw Error(std::string("LibTorch rejects the saved generator state: ") + e.what_without_backtrace(),
                {.file = path.string(), .field = field,
                 .hint = "the checkpoint was written by another LibTorch version or is corrupted"});
  }
}

}  // namespace

std::string base64_encode(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t b0 = p[i], b1 = i + 1 < n ? p[i + 1] : 0, b2 = i + 2 < n ? p[i + 2] : 0;
    const uint32_t v = (b0 << 16) | (b1 << 8) | b2;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < n ? kAlphabet[v & 63] : '=');
  }
  return out;
}

std::string base64_decode(std::string_view text) {
  std::array<int, 256> value;
  value.fill(-1);
  for (int i = 0; i < 64; ++i) value[static_cast<uint8_t>(kAlphabet[i])] = i;
  if (text.size() % 4 != 0)
    throw Error("base64 text length " + std::to_string(text.size()) + " is not a multiple of 4");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + k];
      // '=' only at the end: "xx==" or "xxx="
      if (c == '=' && i + 4 == text.size() && k >= 2 && (k == 3 || text[i + 3] == '=')) {
        v[k] = 0;
        ++pad;
        continue;
      }
      v[k] = value[static_cast<uint8_t>(c)];
      if (v[k] < 0 || pad > 0) throw Error("invalid base64 character at offset " + std::to_string(i + k));
    }
    const uint32_t bits = (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    out.push_back(static_cast<char>((bits >> 16) & 0xff));
    if (pad < 2) out.push_back(static_cast<char>((bits >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(bits & 0xff));
  }
  return out;
}

void save_rng_state(const fs::path& path, const DataOrder& data) {
  Json j = {{"format", kFormat}, {"version", 1}};
  j["cpu"] = generator_state(at::detail::getDefaultCPUGenerator());
  j["cuda"] = Json::array();
  if (at::hasCUDA())
    for (size_t d = 0; d < at::getNumGPUs(); ++d)
      j["cuda"].push_back(generator_state(
          at::globalContext().defaultGenerator(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(d)))));
  j["data"] = {{"seed", data.seed}, {"epoch", data.epoch}, {"position", data.position}};
  write_json_file(path, j);
}

DataOrder restore_rng_state(const fs::path& path) {
  const Json j = read_json_file(path);
  const ErrorContext ctx{.file = path.string()};
  if (!j.is_object() || j.value("format", std::string()) != kFormat)
    throw Error("not an RNG state file (no \"format\": \"prefer-rng-state\")",
                {.file = path.string(), .field = "format"});
  auto decode_field = [&](const Json& v, const std::string& field) {
    if (!v.is_string())
      throw Error("expected a base64 string, found " + json_type_name(v), {.file = path.string(), .field = field});
    return v.get<std::string>();
  };
  auto restore = [&](at::Generator gen, const Json& v, const std::string& field) {
    try {
      set_generator_state(std::move(gen), decode_field(v, field), path, field);
    } catch (const Error& e) {
      throw e.with_defaults({.file = path.string(), .field = field});
    }
  };
  restore(at::detail::getDefaultCPUGenerator(), require_field(j, "cpu", ctx), "cpu");
  if (j.contains("cuda") && j["cuda"].is_array() && at::hasCUDA()) {
    const size_t n = std::min(j["cuda"].size(), at::getNumGPUs());
    for (size_t d = 0; d < n; ++d)
      restore(at::globalContext().defaultGenerator(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(d))),
              j["cuda"][d], "cuda." + std::to_string(d));
  }
  DataOrder data;
  if (j.contains("data")) {
    const Json& dj = j["data"];
    const ErrorContext dctx{.file = path.string()};
    auto u64 = [&](const char* key) -> uint64_t {
      const Json& v = require_field(dj, key, dctx);
      if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
        throw Error("expected an integer >= 0", {.file = path.string(), .field = std::string("data.") + key});
      return v.get<uint64_t>();
    };
    data = {.seed = u64("seed"), .epoch = u64("epoch"), .position = u64("position")};
  }
  return data;
}

}  // namespace prefer::train
