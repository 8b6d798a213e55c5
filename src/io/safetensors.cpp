#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json.h"

namespace prefer::io {

namespace {

// The Python reader refuses headers above 100 MB; so do we, before allocating anything.
constexpr uint64_t kMaxHeader = 100'000'000;

uint64_t read_le64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint64_t>(p[i]);
  return v;
}

// numel * elem_size with overflow detection; false on overflow or negative dims.
bool byte_size(const std::vector<int64_t>& shape, size_t elem, uint64_t& out) {
  unsigned __int128 n = elem;
  for (int64_t d : shape) {
    if (d < 0) return false;
    n *= static_cast<uint64_t>(d);
    if (n > UINT64_MAX) return false;
  }
  out = static_cast<uint64_t>(n);
  return true;
}

}  // namespace

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : map_(path) {
  const std::string file = path.string();
  auto fail = [&](const std::string& msg, const std::string& tensor = "", std::string hint = "") -> Error {
    return Error(msg, {.file = file, .field = tensor, .hint = std::move(hint)});
  };
  if (map_.size() < 8)
    throw fail("file is " + std::to_string(map_.size()) + " bytes, too short for a safetensors header",
               "", "the file is truncated or not a safetensors file");
  const uint64_t n = read_le64(map_.data());
  if (n > kMaxHeader) throw fail("header length " + std::to_string(n) + " exceeds the 100 MB limit", "",
                                 "the file is not a safetensors file or is corrupted");
  if (n > map_.size() - 8)
    throw fail("header length " + std::to_string(n) + " runs past the end of the file (" +
                   std::to_string(map_.size()) + " bytes)",
               "", "the file is truncated");
  data_start_ = 8 + static_cast<size_t>(n);
  const uint64_t data_size = map_.size() - data_start_;

  std::string_view header_text(reinterpret_cast<const char*>(map_.data()) + 8, static_cast<size_t>(n));
  Json header;
  try {
    header = parse_json(header_text, {.file = file});
  } catch (const Error& e) {
    throw fail("header is not valid JSON: " + e.message());
  }
  if (!header.is_object()) throw fail("header is " + json_type_name(header) + ", expected an object");

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const Json& entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) throw fail("__metadata__ must be an object of strings", name);
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string()) throw fail("__metadata__ value '" + m.key() + "' is not a string", name);
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!entry.is_object()) throw fail("entry is " + json_type_name(entry) + ", expected an object", name);
    TensorInfo t;
    t.name = name;
    std::string dt;
    try {
      dt = require_string(entry, "dtype", {.file = file});
    } catch (const Error& e) {
      throw fail("dtype: " + e.message(), name);
    }
    auto parsed = parse_dtype(dt);
    if (!parsed) throw fail("unknown dtype '" + dt + "'", name, "supported: " + supported_dtype_names());
    t.dtype = *parsed;
    auto shape_it = entry.find("shape");
    if (shape_it == entry.end() || !shape_it->is_array()) throw fail("shape missing or not a list", name);
    for (const Json& d : *shape_it) {
      if (!d.is_number_integer() && !d.is_number_unsigned()) throw fail("shape holds a non-integer", name);
      int64_t v = d.get<int64_t>();
      if (v < 0) throw fail("shape holds a negative dimension", name);
      t.shape.push_back(v);
    }
    auto off_it = entry.find("data_offsets");
    if (off_it == entry.end() || !off_it->is_array() || off_it->size() != 2 ||
        !(*off_it)[0].is_number_unsigned() || !(*off_it)[1].is_number_unsigned())
      throw fail("data_offsets must be two non-negative integers [begin, end]", name);
    t.begin = (*off_it)[0].get<uint64_t>();
    t.end = (*off_it)[1].get<uint64_t>();
    if (t.begin > t.end) throw fail("data_offsets begin > end", name);
    if (t.end > data_size)
      throw fail("data_offsets end " + std::to_string(t.end) + " is past the data area (" +
                     std::to_string(data_size) + " bytes)",
                 name, "the file is truncated");
    uint64_t want = 0;
    if (!byte_size(t.shape, dtype_size(t.dtype), want))
      throw fail("shape is too large (byte size overflows)", name);
    if (want != t.nbytes())
      throw fail("holds " + std::to_string(t.nbytes()) + " bytes but dtype " + std::string(dtype_name(t.dtype)) +
                     " x shape needs " + std::to_string(want),
                 name);
    tensors_.push_back(std::move(t));
  }

  // The data area must be covered exactly once: sorted by offset, each tensor starts where the
  // previous one ended, the first at 0, the last at the end of the file.
  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t expect = 0;
  for (size_t i = 0; i < by_offset.size(); ++i) {
    const TensorInfo* t = by_offset[i];
    if (t->begin < expect)
      throw fail("data_offsets [" + std::to_string(t->begin) + ", " + std::to_string(t->end) +
                     ") overlap tensor '" + by_offset[i - 1]->name + "'",
                 t->name);
    if (t->begin > expect)
      throw fail("gap in the data area before this tensor (expected it to start at " + std::to_string(expect) +
                     ")",
                 t->name);
    expect = t->end;
  }
  if (expect != data_size)
    throw fail("the data area has " + std::to_string(data_size - expect) + " bytes that no tensor covers");

  // nlohmann's object iterates in key order, so tensors_ is already in name order.
  for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

TensorView SafetensorsFile::view(const std::string& name) const {
  const TensorInfo* t = find(name);
  if (t == nullptr) throw Error("no such tensor in the file", {.file = path().string(), .field = name});
  return view(*t);
}

TensorView SafetensorsFile::view(const TensorInfo& t) const {
  return {&t, map_.data() + data_start_ + t.begin, static_cast<size_t>(t.nbytes())};
}

std::string safetensors_header(const std::vector<TensorData>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  // Built by hand so that __metadata__ comes first whatever the tensor names (Python does the same).
  std::string json = "{";
  if (!metadata.empty()) json += "\"__metadata__\":" + Json(metadata).dump();
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (json.size() > 1) json += ",";
    // Key order dtype, shape, data_offsets as the Python/Rust writer emits it, so our files are
    // byte-identical to theirs for the same tensors.
    json += Json(t.name).dump() + ":{\"dtype\":\"" + std::string(dtype_name(t.dtype)) + "\",\"shape\":" +
            Json(t.shape).dump() + ",\"data_offsets\":[" + std::to_string(offset) + "," +
            std::to_string(offset + t.nbytes) + "]}";
    offset += t.nbytes;
  }
  json += "}";
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + json;
}

void write_safetensors(const std::filesystem::path& path, std::vector<TensorData> tensors,
                       std::map<std::string, std::string> metadata) {
  std::sort(tensors.begin(), tensors.end(), [](const TensorData& a, const TensorData& b) { return a.name < b.name; });
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorData& t = tensors[i];
    ErrorContext ctx{.file = path.string(), .field = t.name};
    if (t.name == "__metadata__" || t.name.empty()) throw Error("invalid tensor name", ctx);
    if (i > 0 && tensors[i - 1].name == t.name) throw Error("tensor name appears twice", ctx);
    uint64_t want = 0;
    if (!byte_size(t.shape, dtype_size(t.dtype), want) || want != t.nbytes)
      throw Error("byte size " + std::to_string(t.nbytes) + " does not match dtype x shape (" + std::to_string(want) + ")",
                  ctx);
  }
  AtomicFile out(path);
  out.write(safetensors_header(tensors, metadata));
  for (const auto& t : tensors) out.write(t.data, t.nbytes);
  out.commit();
}

}  // namespace prefer::io
