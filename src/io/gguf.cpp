#include "io/gguf.h"

#include <cstring>
#include <fstream>
#include <set>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/file.h"

namespace prefer::io {
namespace {

// gguf_type: the metadata value types of the specification.
enum : uint32_t { U8 = 0, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 };
constexpr uint64_t kAlignment = 32;

class Out {
 public:
  template <class T>
  void pod(T v) {
    s_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void str(const std::string& v) {
    pod<uint64_t>(v.size());
    s_ += v;
  }
  void pad(uint64_t align) { s_.append((align - s_.size() % align) % align, '\0'); }
  std::string& bytes() { return s_; }

 private:
  std::string s_;
};

void value(Out& o, const GgufValue& v) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, uint32_t>) o.pod<uint32_t>(U32), o.pod(x);
        else if constexpr (std::is_same_v<T, int32_t>) o.pod<uint32_t>(I32), o.pod(x);
        else if constexpr (std::is_same_v<T, float>) o.pod<uint32_t>(F32), o.pod(x);
        else if constexpr (std::is_same_v<T, bool>) o.pod<uint32_t>(BOOL), o.pod<uint8_t>(x ? 1 : 0);
        else if constexpr (std::is_same_v<T, std::string>) o.pod<uint32_t>(STRING), o.str(x);
        else if constexpr (std::is_same_v<T, uint64_t>) o.pod<uint32_t>(U64), o.pod(x);
        else {
          o.pod<uint32_t>(ARRAY);
          std::visit(
              [&](const auto& a) {
                using E = typename std::decay_t<decltype(a)>::value_type;
                o.pod<uint32_t>(std::is_same_v<E, std::string> ? STRING : std::is_same_v<E, int32_t> ? I32 : F32);
                o.pod<uint64_t>(a.size());
                for (const E& e : a) {
                  if constexpr (std::is_same_v<E, std::string>) o.str(e);
                  else o.pod(e);
                }
              },
              x);
        }
      },
      v);
}

class In {
 public:
  In(const std::string& data, std::string file) : d_(data), file_(std::move(file)) {}
  template <class T>
  T pod(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, d_.data() + p_, sizeof v);
    p_ += sizeof v;
    return v;
  }
  std::string str(const std::string& what) {
    const auto n = pod<uint64_t>(what);
    need(n, what);
    std::string s = d_.substr(p_, n);
    p_ += n;
    return s;
  }
  void need(uint64_t n, const std::string& what) const {
    if (n > d_.size() - p_) throw Error("the file ends inside " + what, {.file = file_, .field = what});
  }
  size_t pos() const { return p_; }
  const std::string& file() const { return file_; }

 private:
  const std::string& d_;
  std::string file_;
  size_t p_ = 0;
};

GgufValue read_value(In& in, uint32_t type, const std::string& key) {
  switch (type) {
    case U8: return static_cast<uint32_t>(in.pod<uint8_t>(key));
    case I8: return static_cast<int32_t>(in.pod<int8_t>(key));
    case U16: return static_cast<uint32_t>(in.pod<uint16_t>(key));
    case I16: return static_cast<int32_t>(in.pod<int16_t>(key));
    case U32: return in.pod<uint32_t>(key);
    case I32: return in.pod<int32_t>(key);
    case F32: return in.pod<float>(key);
    case BOOL: return in.pod<uint8_t>(key) != 0;
    case STRING: return in.str(key);
    case U64: return in.pod<uint64_t>(key);
    case I64: return static_cast<uint64_t>(in.pod<int64_t>(key));
    case F64: return static_cast<float>(in.pod<double>(key));
    case ARRAY: {
      const auto et = in.pod<uint32_t>(key);
      const auto n = in.pod<uint64_t>(key);
      in.need(n, key);  // every element takes at least a byte
      if (et == STRING) {
        std::vector<std::string> a;
        for (uint64_t i = 0; i < n; ++i) a.push_back(in.str(key));
        return GgufArray{a};
      }
      if (et == F32) {
        std::vector<float> a;
        for (uint64_t i = 0; i < n; ++i) a.push_back(in.pod<float>(key));
        return GgufArray{a};
      }
      if (et == I32 || et == U32 || et == I8 || et == U8 || et == I16 || et == U16) {
        std::vector<int32_t> a;
        for (uint64_t i = 0; i < n; ++i) {
          const GgufValue e = read_value(in, et, key);
          a.push_back(std::holds_alternative<int32_t>(e) ? std::get<int32_t>(e) : static_cast<int32_t>(std::get<uint32_t>(e)));
        }
        return GgufArray{a};
      }
      throw Error("arrays of type " + std::to_string(et) + " are not supported", {.file = in.file(), .field = key});
    }
    default: throw Error("unknown metadata type " + std::to_string(type), {.file = in.file(), .field = key});
  }
}

}  // namespace

std::string_view ggml_type_name(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return "f32";
    case GgmlType::F16: return "f16";
    case GgmlType::Q4_0: return "q4_0";
    case GgmlType::Q8_0: return "q8_0";
    case GgmlType::BF16: return "bf16";
  }
  return "?";
}

int64_t ggml_block_size(GgmlType t) { return t == GgmlType::Q4_0 || t == GgmlType::Q8_0 ? 32 : 1; }

int64_t ggml_block_bytes(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return 4;
    case GgmlType::F16:
    case GgmlType::BF16: return 2;
    case GgmlType::Q4_0: return 2 + 16;  // float16 scale, 32 4-bit values
    case GgmlType::Q8_0: return 2 + 32;  // float16 scale, 32 int8 values
  }
  return 0;
}

int64_t ggml_nbytes(GgmlType t, const std::vector<int64_t>& ne) {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n / ggml_block_size(t) * ggml_block_bytes(t);
}

const GgufValue* GgufFile::find(const std::string& key) const {
  for (const auto& [k, v] : metadata)
    if (k == key) return &v;
  return nullptr;
}

const GgufTensor* GgufFile::tensor(const std::string& name) const {
  for (const GgufTensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

void write_gguf(const std::filesystem::path& path, const GgufFile& f) {
  Out o;
  o.bytes().append("GGUF");
  o.pod<uint32_t>(3);
  o.pod<uint64_t>(f.tensors.size());
  o.pod<uint64_t>(f.metadata.size());
  std::set<std::string> keys, names;
  for (const auto& [k, v] : f.metadata) {
    if (!keys.insert(k).second) throw Error("duplicate metadata key", {.file = path.string(), .field = k});
    o.str(k);
    value(o, v);
  }
  uint64_t offset = 0;
  for (const GgufTensor& t : f.tensors) {
    if (!names.insert(t.name).second) throw Error("duplicate tensor", {.file = path.string(), .field = t.name});
    if (t.ne.empty() || t.ne[0] % ggml_block_size(t.type) != 0 ||
        static_cast<int64_t>(t.data.size()) != ggml_nbytes(t.type, t.ne))
      throw Error("tensor data does not match its shape and type " + std::string(ggml_type_name(t.type)), {.file = path.string(), .field = t.name});
    o.str(t.name);
    o.pod<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) o.pod<uint64_t>(static_cast<uint64_t>(d));
    o.pod<uint32_t>(static_cast<uint32_t>(t.type));
    o.pod<uint64_t>(offset);
    offset += (t.data.size() + kAlignment - 1) / kAlignment * kAlignment;
  }
  o.pad(kAlignment);
  for (const GgufTensor& t : f.tensors) {
    o.bytes() += t.data;
    o.pad(kAlignment);
  }
  write_file_atomic(path, o.bytes());
}

GgufFile read_gguf(const std::filesystem::path& path) {
  const std::string data = read_file(path);
  const std::string file = path.string();
  In in(data, file);
  if (data.size() < 4 || data.compare(0, 4, "GGUF") != 0) throw Error("not a GGUF file (no GGUF magic)", {.file = file});
  in.pod<uint32_t>("magic");
  const auto version = in.pod<uint32_t>("version");
  if (version != 2 && version != 3) throw Error("GGUF version " + std::to_string(version) + " (2 and 3 are read)", {.file = file, .field = "version"});
  const auto n_tensors = in.pod<uint64_t>("tensor_count");
  const auto n_kv = in.pod<uint64_t>("metadata_kv_count");
  in.need(n_kv, "metadata");
  GgufFile f;
  uint64_t align = kAlignment;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = in.str("metadata key");
    GgufValue v = read_value(in, in.pod<uint32_t>(key), key);
    if (key == "general.alignment" && std::holds_alternative<uint32_t>(v)) align = std::get<uint32_t>(v);
    f.metadata.emplace_back(std::move(key), std::move(v));
  }
  if (align == 0 || (align & (align - 1)) != 0) throw Error("alignment must be a power of two", {.file = file, .field = "general.alignment"});
  in.need(n_tensors, "tensor infos");
  std::vector<uint64_t> offsets;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    t.name = in.str("tensor name");
    const auto nd = in.pod<uint32_t>(t.name);
    if (nd == 0 || nd > 4) throw Error("a tensor has 1 to 4 dimensions, not " + std::to_string(nd), {.file = file, .field = t.name});
    for (uint32_t k = 0; k < nd; ++k) {
      const auto d = in.pod<uint64_t>(t.name);
      if (d == 0 || d > (uint64_t{1} << 40)) throw Error("dimension out of range", {.file = file, .field = t.name});
      t.ne.push_back(static_cast<int64_t>(d));
    }
    const auto type = in.pod<uint32_t>(t.name);
    if (type != 0 && type != 1 && type != 2 && type != 8 && type != 30)
      throw Error("ggml type " + std::to_string(type) + " is not read here (f32, f16, bf16, q8_0, q4_0 are)", {.file = file, .field = t.name});
    t.type = static_cast<GgmlType>(type);
    if (t.ne[0] % ggml_block_size(t.type) != 0) throw Error("ne[0] is not a multiple of the block size", {.file = file, .field = t.name});
    offsets.push_back(in.pod<uint64_t>(t.name));
    f.tensors.push_back(std::move(t));
  }
  const uint64_t base = (in.pos() + align - 1) / align * align;
  uint64_t end = 0;
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    GgufTensor& t = f.tensors[i];
    const auto n = static_cast<uint64_t>(ggml_nbytes(t.type, t.ne));
    if (offsets[i] % align != 0 || offsets[i] < end || base + offsets[i] > data.size() || n > data.size() - base - offsets[i])
      throw Error("tensor data outside the data section, unaligned or overlapping", {.file = file, .field = t.name});
    t.data = data.substr(base + offsets[i], n);
    end = offsets[i] + n;
  }
  return f;
}

}  // namespace prefer::io
