// Arrow IPC reading (arrow.apache.org/docs/format/Columnar.html, "Serialization and Interprocess
// Communication"): a stream of encapsulated messages, each [0xFFFFFFFF][i32 metadata bytes][Message
// flatbuffer, padded to 8][body]; the Schema comes first, then DictionaryBatch and RecordBatch
// messages; 0xFFFFFFFF 0x00000000 ends it. The file format is "ARROW1\0\0", the same stream, a footer.
//
// A record batch lists its columns' FieldNodes {length, null_count} and Buffers {offset, length} in
// depth-first order of the schema's fields; each type takes a fixed number of buffers (validity first).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "io/columnar.h"
#include "io/decompress.h"
#include "io/flatbuffer.h"
#include "io/float16.h"
#include "util/mmap.h"
#include "util/utf8.h"

namespace prefer::io {
namespace fs = std::filesystem;

namespace {

// Type union tags of Schema.fbs.
enum TypeTag : uint8_t {
  kNull = 1, kInt = 2, kFloat = 3, kBinary = 4, kUtf8 = 5, kBool = 6, kList = 12, kStruct = 13,
  kFixedSizeList = 16, kLargeBinary = 19, kLargeUtf8 = 20, kLargeList = 21,
};
// Message header union tags of Message.fbs.
enum HeaderTag : uint8_t { kSchema = 1, kDictionaryBatch = 2, kRecordBatch = 3 };

const char* type_name(uint8_t tag) {
  static const char* names[] = {"NONE", "Null", "Int", "FloatingPoint", "Binary", "Utf8", "Bool", "Decimal", "Date",
                                "Time", "Timestamp", "Interval", "List", "Struct", "Union", "FixedSizeBinary",
                                "FixedSizeList", "Map", "Duration", "LargeBinary", "LargeUtf8", "LargeList",
                                "RunEndEncoded", "BinaryView", "Utf8View", "ListView", "LargeListView"};
  return tag < sizeof(names) / sizeof(names[0]) ? names[tag] : "unknown";
}

struct Field {
  std::string name;
  uint8_t type = 0;
  int bit_width = 0;        // Int
  bool is_signed = true;    // Int
  int precision = 0;        // FloatingPoint: 0 half, 1 single, 2 double
  int32_t list_size = 0;    // FixedSizeList
  bool dictionary = false;  // values are indices into dictionary `dict_id`
  int64_t dict_id = 0;
  int index_width = 32;
  bool index_signed = true;
  std::vector<Field> children;
};

Field read_field(const FlatTable& f, int depth, const ErrorContext& ctx) {
  if (depth > kMaxColumnarDepth) throw Error("the schema nests deeper than " + std::to_string(kMaxColumnarDepth) + " levels", ctx);
  Field out;
  out.name = std::string(f.string(0));
  // Names become JSON keys (found by fuzz_arrow: a non-UTF-8 name failed only when printed).
  if (!is_valid_utf8(out.name)) throw Error("the schema has a column name that is not UTF-8 text", ctx);
  out.type = f.scalar<uint8_t>(2, 0);
  FlatTable type = f.table(3);
  if (out.type == kInt) {
    out.bit_width = type.scalar<int32_t>(0, 0);
    out.is_signed = type.scalar<uint8_t>(1, 0) != 0;
  } else if (out.type == kFloat) {
    out.precision = type.scalar<int16_t>(0, 0);
  } else if (out.type == kFixedSizeList) {
    out.list_size = type.scalar<int32_t>(0, 0);
    if (out.list_size < 0) throw Error("column '" + out.name + "' has a negative list size", ctx);
  }
  if (FlatTable dict = f.table(4); dict.valid()) {
    out.dictionary = true;
    out.dict_id = dict.scalar<int64_t>(0, 0);
    if (FlatTable index = dict.table(1); index.valid()) {
      out.index_width = index.scalar<int32_t>(0, 0);
      out.index_signed = index.scalar<uint8_t>(1, 0) != 0;
    }
  }
  FlatTable::Vector kids = f.vector(5, 4);
  for (uint32_t i = 0; i < kids.size; ++i) out.children.push_back(read_field(f.table_at(kids, i), depth + 1, ctx));
  return out;
}

// Walks a record batch's nodes and buffers in order, decompressing buffers when the body is compressed.
class BatchCursor {
 public:
  BatchCursor(const FlatTable& batch, std::string_view body, const ErrorContext& ctx) : batch_(batch), body_(body), ctx_(ctx) {
    nodes_ = batch.vector(1, 16);
    buffers_ = batch.vector(2, 16);
    if (FlatTable compression = batch.table(3); compression.valid()) {
      uint8_t codec = compression.scalar<uint8_t>(0, 0);
      if (codec != 1) throw Error("the record batches are LZ4-compressed; prefer reads uncompressed or ZSTD Arrow IPC", ctx);
      zstd_ = true;
    }
  }
  int64_t length() const { return batch_.scalar<int64_t>(0, 0); }
  uint64_t max_values() const { return 8 * static_cast<uint64_t>(body_.size()) * (zstd_ ? 1024 : 1) + 4096; }

  struct Node {
    int64_t length, null_count;
  };
  Node node() {
    if (node_i_ >= nodes_.size) throw Error("a record batch has fewer field nodes than its schema has columns", ctx_);
    Node n{batch_.struct_at<int64_t>(nodes_, node_i_, 16, 0), batch_.struct_at<int64_t>(nodes_, node_i_, 16, 8)};
    ++node_i_;
    if (n.length < 0 || n.null_count < 0 || n.null_count > n.length) throw Error("a record batch has a bad field node", ctx_);
    return n;
  }
  std::string_view buffer() {
    if (buf_i_ >= buffers_.size) throw Error("a record batch has fewer buffers than its schema needs", ctx_);
    int64_t off = batch_.struct_at<int64_t>(buffers_, buf_i_, 16, 0);
    int64_t len = batch_.struct_at<int64_t>(buffers_, buf_i_, 16, 8);
    ++buf_i_;
    if (off < 0 || len < 0 || static_cast<uint64_t>(off) > body_.size() || static_cast<uint64_t>(len) > body_.size() - off)
      throw Error("a record batch buffer lies outside the message body", ctx_);
    std::string_view raw = body_.substr(static_cast<size_t>(off), static_cast<size_t>(len));
    if (!zstd_ || raw.empty()) return raw;
    // Compressed buffers: i64 uncompressed length (-1: stored as is), then the ZSTD frame.
    if (raw.size() < 8) throw Error("a compressed buffer is shorter than its length prefix", ctx_);
    int64_t n;
    std::memcpy(&n, raw.data(), 8);
    if (n == -1) return raw.substr(8);
    if (n < 0 || static_cast<uint64_t>(n) > 1024 * static_cast<uint64_t>(raw.size()) + (1 << 20))
      throw Error("a compressed buffer records a bad length", ctx_);
    owned_.push_back(decompress(Codec::Zstd, raw.substr(8), static_cast<size_t>(n), ctx_));
    return owned_.back();
  }

 private:
  FlatTable batch_;
  std::string_view body_;
  ErrorContext ctx_;
  FlatTable::Vector nodes_, buffers_;
  uint32_t node_i_ = 0, buf_i_ = 0;
  bool zstd_ = false;
  std::deque<std::string> owned_;
};

using Dictionaries = std::map<int64_t, std::vector<OrderedJson>>;

template <class T>
T load(std::string_view buf, size_t i, const ErrorContext& ctx) {
  if ((i + 1) * sizeof(T) > buf.size()) throw Error("a column's data buffer is shorter than its length", ctx);
  T v;
  std::memcpy(&v, buf.data() + i * sizeof(T), sizeof(T));
  return v;
}

bool bit(std::string_view buf, size_t i) { return (static_cast<uint8_t>(buf[i / 8]) >> (i % 8)) & 1; }


OrderedJson integer(std::string_view data, size_t i, int width, bool is_signed, const ErrorContext& ctx) {
  switch (width) {
    case 8: return is_signed ? OrderedJson(load<int8_t>(data, i, ctx)) : OrderedJson(load<uint8_t>(data, i, ctx));
    case 16: return is_signed ? OrderedJson(load<int16_t>(data, i, ctx)) : OrderedJson(load<uint16_t>(data, i, ctx));
    case 32: return is_signed ? OrderedJson(load<int32_t>(data, i, ctx)) : OrderedJson(load<uint32_t>(data, i, ctx));
    case 64: return is_signed ? OrderedJson(load<int64_t>(data, i, ctx)) : OrderedJson(load<uint64_t>(data, i, ctx));
  }
  throw Error("an integer column has bit width " + std::to_string(width), ctx);
}

// [start, end) of element i from a list or string offsets buffer (i32 or i64), checked.
template <class Off>
std::pair<size_t, size_t> span(std::string_view offsets, size_t i, size_t limit, const ErrorContext& ctx) {
  Off a = load<Off>(offsets, i, ctx), b = load<Off>(offsets, i + 1, ctx);
  if (a < 0 || b < a || static_cast<uint64_t>(b) > limit) throw Error("a column has offsets out of order or past its data", ctx);
  return {static_cast<size_t>(a), static_cast<size_t>(b)};
}

std::vector<OrderedJson> decode(const Field& f, BatchCursor& cur, const Dictionaries& dicts, const ErrorContext& ctx);

std::vector<OrderedJson> decode_values(const Field& f, BatchCursor& cur, const Dictionaries& dicts, size_t n, const ErrorContext& ctx) {
  std::vector<OrderedJson> out(n);
  ErrorContext c = ctx;
  c.field = f.name;
  if (f.dictionary) {
    std::string_view idx = cur.buffer();
    auto it = dicts.find(f.dict_id);
    if (it == dicts.end()) throw Error("uses dictionary " + std::to_string(f.dict_id) + ", which no DictionaryBatch defined", c);
    for (size_t i = 0; i < n; ++i) {
      OrderedJson k = integer(idx, i, f.index_width, f.index_signed, c);
      int64_t key = k.is_number_unsigned() ? static_cast<int64_t>(std::min<uint64_t>(k.get<uint64_t>(), INT64_MAX)) : k.get<int64_t>();
      if (key < 0 || static_cast<uint64_t>(key) >= it->second.size()) throw Error("holds dictionary index " + std::to_string(key) + " past the dictionary", c);
      out[i] = it->second[static_cast<size_t>(key)];
    }
    return out;
  }
  switch (f.type) {
    case kNull: return out;
    case kInt: {
      std::string_view data = cur.buffer();
      for (size_t i = 0; i < n; ++i) out[i] = integer(data, i, f.bit_width, f.is_signed, c);
      return out;
    }
    case kFloat: {
      std::string_view data = cur.buffer();
      for (size_t i = 0; i < n; ++i)
        out[i] = f.precision == 0   ? float16_to_double(load<uint16_t>(data, i, c))
                 : f.precision == 1 ? static_cast<double>(load<float>(data, i, c))
                                    : load<double>(data, i, c);
      return out;
    }
    case kBool: {
      std::string_view data = cur.buffer();
      if (data.size() * 8 < n) throw Error("a boolean column's data is shorter than its length", c);
      for (size_t i = 0; i < n; ++i) out[i] = bit(data, i);
      return out;
    }
    case kUtf8: case kBinary: case kLargeUtf8: case kLargeBinary: {
      std::string_view offsets = cur.buffer(), data = cur.buffer();
      bool large = f.type == kLargeUtf8 || f.type == kLargeBinary;
      for (size_t i = 0; i < n; ++i) {
        auto [a, b] = large ? span<int64_t>(offsets, i, data.size(), c) : span<int32_t>(offsets, i, data.size(), c);
        std::string_view s = data.substr(a, b - a);
        if (!is_valid_utf8(s)) throw Error("holds bytes that are not UTF-8 text (only text columns can be read)", c);
        out[i] = std::string(s);
      }
      return out;
    }
    case kList: case kLargeList: case kFixedSizeList: {
      if (f.children.size() != 1) throw Error("a list column must have one child field", c);
      std::string_view offsets = f.type == kFixedSizeList ? std::string_view() : cur.buffer();
      std::vector<OrderedJson> items = decode(f.children[0], cur, dicts, ctx);
      for (size_t i = 0; i < n; ++i) {
        std::pair<size_t, size_t> r = f.type == kList      ? span<int32_t>(offsets, i, items.size(), c)
                                      : f.type == kLargeList ? span<int64_t>(offsets, i, items.size(), c)
                                                             : std::pair<size_t, size_t>{i * f.list_size, (i + 1) * f.list_size};
        if (r.second > items.size()) throw Error("a fixed-size list column is longer than its values", c);
        out[i] = OrderedJson::array();
        // Offsets never decrease, so each item belongs to one row and can be moved.
        for (size_t k = r.first; k < r.second; ++k) out[i].push_back(std::move(items[k]));
      }
      return out;
    }
    case kStruct: {
      for (size_t i = 0; i < n; ++i) out[i] = OrderedJson::object();
      for (const Field& child : f.children) {
        std::vector<OrderedJson> values = decode(child, cur, dicts, ctx);
        if (values.size() < n) throw Error("a struct column's field '" + child.name + "' is shorter than the struct", c);
        for (size_t i = 0; i < n; ++i) out[i][child.name] = std::move(values[i]);
      }
      return out;
    }
    default:
      throw Error(std::string("has Arrow type ") + type_name(f.type) + ", which prefer does not read",
                  {.file = ctx.file, .field = f.name, .hint = "keep only text, number, boolean, list and struct columns"});
  }
}

// One column of a record batch: its node, its validity buffer, then its values.
std::vector<OrderedJson> decode(const Field& f, BatchCursor& cur, const Dictionaries& dicts, const ErrorContext& ctx) {
  BatchCursor::Node node = cur.node();
  // Every value costs at least a bit of some buffer (Null columns aside, which a dataset does not
  // consist of), so a length far past the body is corruption, not a reason to allocate.
  if (static_cast<uint64_t>(node.length) > cur.max_values()) throw Error("a column claims " + std::to_string(node.length) + " values, more than its message body can hold", ctx);
  size_t n = static_cast<size_t>(node.length);
  // Null columns have no buffers at all; every other type starts with its validity bitmap.
  std::string_view validity = f.type == kNull && !f.dictionary ? std::string_view() : cur.buffer();
  std::vector<OrderedJson> out = decode_values(f, cur, dicts, n, ctx);
  if (node.null_count > 0 && !validity.empty()) {
    if (validity.size() * 8 < n) throw Error("a validity bitmap is shorter than its column", {.file = ctx.file, .field = f.name});
    for (size_t i = 0; i < n; ++i)
      if (!bit(validity, i)) out[i] = nullptr;
  }
  return out;
}

}  // namespace

void read_arrow_rows(const fs::path& file, const RowVisitor& visit) {
  MappedFile map(file);
  read_arrow_rows(map.view(), file.string(), visit);
}

namespace {

// One encapsulated message at `pos`: its metadata and body; `pos` moves past both. Empty metadata at
// the end-of-stream marker or the end of the bytes.
struct Message {
  FlatTable meta;
  std::string_view body;
};
std::optional<Message> next_message(std::string_view v, size_t& pos, const ErrorContext& ctx) {
  auto u32 = [&](size_t p) {
    uint32_t x;
    std::memcpy(&x, v.data() + p, 4);
    return x;
  };
  if (pos + 4 > v.size()) return std::nullopt;
  uint32_t size = u32(pos);
  pos += 4;
  if (size == 0xFFFFFFFFu) {  // continuation marker, then the length (older writers omit the marker)
    if (pos + 4 > v.size()) return std::nullopt;
    size = u32(pos);
    pos += 4;
  }
  if (size == 0) return std::nullopt;  // end of stream
  if (size > v.size() - pos) throw Error("a message's metadata runs past the end of the file (truncated?)", ctx);
  Message m{FlatTable::root(v.substr(pos, size), ctx), {}};
  pos += size;
  int64_t body_len = m.meta.scalar<int64_t>(3, 0);
  if (body_len < 0 || static_cast<uint64_t>(body_len) > v.size() - pos) throw Error("a message's body runs past the end of the file (truncated?)", ctx);
  m.body = v.substr(pos, static_cast<size_t>(body_len));
  pos += static_cast<size_t>(body_len);
  return m;
}

std::vector<Field> read_schema(const FlatTable& schema, const ErrorContext& ctx) {
  FlatTable::Vector fields = schema.vector(1, 4);
  std::vector<Field> out;
  for (uint32_t i = 0; i < fields.size; ++i) out.push_back(read_field(schema.table_at(fields, i), 0, ctx));
  return out;
}

class Reader {
 public:
  Reader(const ErrorContext& ctx, const RowVisitor& visit) : ctx_(ctx), visit_(visit) {}
  void set_schema(std::vector<Field> schema) {
    schema_ = std::move(schema);
    have_schema_ = true;
  }
  bool have_schema() const { return have_schema_; }

  void handle(const Message& m) {
    uint8_t header = m.meta.scalar<uint8_t>(1, 0);
    FlatTable h = m.meta.table(2);
    if (header == kSchema) return set_schema(read_schema(h, ctx_));
    if (header != kDictionaryBatch && header != kRecordBatch) return;  // tensors: nothing a dataset needs
    if (!have_schema_) throw Error("a record batch comes before the schema", ctx_);
    if (header == kDictionaryBatch) return dictionary(h, m.body);
    BatchCursor cur(h, m.body, ctx_);
    int64_t n = cur.length();
    // Bounded like a column's length (found by fuzz_arrow: a schema without columns and a huge batch
    // length looped for minutes making empty rows).
    if (n < 0 || static_cast<uint64_t>(n) > cur.max_values())
      throw Error("a record batch claims " + std::to_string(n) + " rows, more than its message body can hold", ctx_);
    std::vector<std::vector<OrderedJson>> columns;
    for (const Field& f : schema_) {
      columns.push_back(decode(f, cur, dicts_, ctx_));
      if (n < 0 || static_cast<int64_t>(columns.back().size()) < n) throw Error("column '" + f.name + "' is shorter than its record batch", ctx_);
    }
    for (int64_t r = 0; r < n; ++r) {
      OrderedJson obj = OrderedJson::object();
      for (size_t c = 0; c < schema_.size(); ++c) obj[schema_[c].name] = std::move(columns[c][static_cast<size_t>(r)]);
      visit_(std::move(obj), ++row_);
    }
  }

 private:
  void dictionary(const FlatTable& h, std::string_view body) {
    int64_t id = h.scalar<int64_t>(0, 0);
    bool delta = h.scalar<uint8_t>(2, 0) != 0;
    // The dictionary's values have the type of the field that refers to it, without the encoding.
    const Field* owner = nullptr;
    std::vector<const Field*> stack;
    for (const Field& f : schema_) stack.push_back(&f);
    while (!stack.empty() && owner == nullptr) {
      const Field* f = stack.back();
      stack.pop_back();
      if (f->dictionary && f->dict_id == id) owner = f;
      for (const Field& c : f->children) stack.push_back(&c);
    }
    if (owner == nullptr) throw Error("a DictionaryBatch has id " + std::to_string(id) + ", which no column uses", ctx_);
    Field values = *owner;
    values.dictionary = false;
    BatchCursor cur(h.table(1), body, ctx_);
    std::vector<OrderedJson> decoded = decode(values, cur, dicts_, ctx_);
    auto& d = dicts_[id];
    if (!delta) d.clear();
    for (auto& x : decoded) d.push_back(std::move(x));
  }

  ErrorContext ctx_;
  const RowVisitor& visit_;
  std::vector<Field> schema_;
  bool have_schema_ = false;
  Dictionaries dicts_;
  int64_t row_ = 0;
};

}  // namespace

void read_arrow_rows(std::string_view v, const std::string& name, const RowVisitor& visit) {
  const ErrorContext ctx{.file = name};
  Reader reader(ctx, visit);
  if (v.substr(0, 6) == "ARROW1") {
    // The file format: the schema and the blocks (dictionaries, then record batches) are listed in the
    // footer, [Footer flatbuffer][i32 length]["ARROW1"]; the messages before it need not repeat the schema.
    if (v.size() < 18 || v.substr(v.size() - 6) != "ARROW1") throw Error("is an Arrow file without its footer (truncated?)", ctx);
    int32_t len;
    std::memcpy(&len, v.data() + v.size() - 10, 4);
    if (len <= 0 || static_cast<size_t>(len) > v.size() - 18) throw Error("the Arrow footer length is out of range", ctx);
    FlatTable footer = FlatTable::root(v.substr(v.size() - 10 - static_cast<size_t>(len), static_cast<size_t>(len)), ctx);
    reader.set_schema(read_schema(footer.table(1), ctx));
    for (int field : {2, 3}) {
      FlatTable::Vector blocks = footer.vector(field, 24);
      for (uint32_t i = 0; i < blocks.size; ++i) {
        int64_t offset = footer.struct_at<int64_t>(blocks, i, 24, 0);
        if (offset < 8 || static_cast<uint64_t>(offset) >= v.size()) throw Error("an Arrow footer block points outside the file", ctx);
        size_t pos = static_cast<size_t>(offset);
        std::optional<Message> m = next_message(v, pos, ctx);
        if (!m) throw Error("an Arrow footer block points at no message", ctx);
        reader.handle(*m);
      }
    }
    return;
  }
  size_t pos = 0;
  while (std::optional<Message> m = next_message(v, pos, ctx)) reader.handle(*m);
  if (!reader.have_schema()) throw Error("is not an Arrow IPC file (no schema message)", ctx);
}

}  // namespace prefer::io
