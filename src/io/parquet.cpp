// Parquet reading (github.com/apache/parquet-format: README, Encodings.md, LogicalTypes.md,
// parquet.thrift): "PAR1", column chunks, the Thrift-compact FileMetaData, its u32 length, "PAR1".
//
// The schema is a depth-first list of elements; leaves hold values, groups structure. Each leaf column
// is a sequence of (repetition level, definition level, value) triples: the definition level says how
// many optional/repeated ancestors are present, the repetition level at which repeated ancestor a new
// element starts (0: a new row). Rows are rebuilt per leaf into a raw tree (groups as objects, repeated
// fields as arrays) that all leaves of a row share, then shaped: a LIST-annotated group becomes a JSON
// array of its elements, a MAP one an object.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "io/columnar.h"
#include "io/decompress.h"
#include "io/float16.h"
#include "io/parquet_encoding.h"
#include "io/thrift_compact.h"
#include "util/mmap.h"
#include "util/utf8.h"

namespace prefer::io {
namespace fs = std::filesystem;

namespace {

enum Physical { kBoolean = 0, kInt32 = 1, kInt64 = 2, kInt96 = 3, kFloat = 4, kDouble = 5, kByteArray = 6, kFixedLen = 7 };
enum Repetition { kRequired = 0, kOptional = 1, kRepeated = 2 };
enum Encoding { kPlain = 0, kPlainDictionary = 2, kRle = 3, kBitPacked = 4, kDeltaBinaryPacked = 5, kDeltaLengthByteArray = 6,
                kDeltaByteArray = 7, kRleDictionary = 8, kByteStreamSplit = 9 };
enum PageType { kDataPage = 0, kIndexPage = 1, kDictionaryPage = 2, kDataPageV2 = 3 };

struct Node {
  std::string name;
  int repetition = kRequired;
  int physical = -1;  // -1: a group
  int converted = -1;
  int logical = 0;    // the LogicalType union's field id, 0 when absent
  bool logical_signed = true;
  int scale = 0;
  int type_length = 0;
  int def = 0, rep = 0;  // levels of this node, inclusive
  std::vector<Node> children;
  bool leaf() const { return physical >= 0; }
  bool is_list() const { return !leaf() && (converted == 3 || logical == 3); }
  bool is_map() const { return !leaf() && (converted == 1 || converted == 2 || logical == 2); }
};

// One leaf column: its path from a top-level column down, and its decoded triples for a row group.
struct Leaf {
  std::vector<const Node*> path;
  std::string dotted;
};

const char* physical_name(int t) {
  static const char* names[] = {"BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
  return t >= 0 && t < 8 ? names[t] : "unknown";
}

Node build_schema(const std::vector<ThriftValue>& elems, size_t& i, int def, int rep, int depth, const ErrorContext& ctx) {
  if (depth > kMaxColumnarDepth) throw Error("the schema nests deeper than " + std::to_string(kMaxColumnarDepth) + " levels", ctx);
  if (i >= elems.size() || elems[i].kind != ThriftValue::Kind::Struct) throw Error("the schema is malformed (fewer elements than its groups claim)", ctx);
  const ThriftStruct& e = *elems[i++].fields;
  Node n;
  n.name = thrift_string(e, 4, ctx);
  // Names become JSON keys (found by fuzz_parquet: a non-UTF-8 name failed only when printed).
  if (!is_valid_utf8(n.name)) throw Error("the schema has a column name that is not UTF-8 text", ctx);
  n.repetition = depth == 0 ? kRequired : static_cast<int>(thrift_int(e, 3, kRequired, ctx));
  int64_t kids = thrift_int(e, 5, 0, ctx);
  bool group = depth == 0 || kids > 0 || !thrift_has(e, 1);
  n.physical = group ? -1 : static_cast<int>(thrift_int(e, 1, -1, ctx));
  n.converted = static_cast<int>(thrift_int(e, 6, -1, ctx));
  n.scale = static_cast<int>(thrift_int(e, 7, 0, ctx));
  n.type_length = static_cast<int>(thrift_int(e, 2, 0, ctx));
  if (const ThriftStruct* lt = thrift_struct(e, 10, ctx); lt != nullptr && !lt->empty()) {
    n.logical = lt->begin()->first;
    if (n.logical == 10)
      if (const ThriftStruct* it = thrift_struct(*lt, 10, ctx)) n.logical_signed = thrift_int(*it, 2, 1, ctx) != 0;
    if (n.logical == 5)
      if (const ThriftStruct* dec = thrift_struct(*lt, 5, ctx)) n.scale = static_cast<int>(thrift_int(*dec, 1, n.scale, ctx));
  }
  if (n.repetition < kRequired || n.repetition > kRepeated) throw Error("column '" + n.name + "' has an unknown repetition", ctx);
  n.def = def + (n.repetition != kRequired ? 1 : 0);
  n.rep = rep + (n.repetition == kRepeated ? 1 : 0);
  if (!n.leaf()) {
    if (kids < 0 || static_cast<uint64_t>(kids) > elems.size() - i) throw Error("the schema is malformed (group '" + n.name + "' claims too many children)", ctx);
    for (int64_t k = 0; k < kids; ++k) n.children.push_back(build_schema(elems, i, n.def, n.rep, depth + 1, ctx));
    // Two fields of one name would write into the same JSON key (found by fuzz_parquet).
    std::set<std::string> names;
    for (const Node& c : n.children)
      if (!names.insert(c.name).second) throw Error("the schema has two columns named '" + c.name + "' in one group", ctx);
  } else if (n.physical > kFixedLen) {
    throw Error("column '" + n.name + "' has an unknown physical type", ctx);
  }
  return n;
}

void collect_leaves(const Node& n, std::vector<const Node*>& path, std::vector<Leaf>& out) {
  path.push_back(&n);
  if (n.leaf()) {
    Leaf l{path, ""};
    for (const Node* p : path) l.dotted += (l.dotted.empty() ? "" : ".") + p->name;
    out.push_back(std::move(l));
  } else {
    for (const Node& c : n.children) collect_leaves(c, path, out);
  }
  path.pop_back();
}

// --- Values ----------------------------------------------------------------------------------------

OrderedJson text_value(std::string_view s, const ErrorContext& ctx) {
  if (!is_valid_utf8(s)) throw Error("holds bytes that are not UTF-8 text (only text columns can be read)", ctx);
  return std::string(s);
}

double decimal(int64_t unscaled, int scale) { return static_cast<double>(unscaled) * std::pow(10.0, -scale); }

OrderedJson int_value(const Node& n, int64_t v) {
  bool is_unsigned = (n.converted >= 11 && n.converted <= 14) || (n.logical == 10 && !n.logical_signed);
  if (n.converted == 5 || n.logical == 5) return decimal(v, n.scale);
  if (is_unsigned) return n.physical == kInt32 ? OrderedJson(static_cast<uint32_t>(v)) : OrderedJson(static_cast<uint64_t>(v));
  return v;
}


void check_readable(const Node& n, const ErrorContext& ctx) {
  bool ok = n.physical != kInt96 && !(n.physical == kFixedLen && n.logical != 15) &&
            !(n.physical == kByteArray && (n.converted == 5 || n.logical == 5));
  if (!ok)
    throw Error(std::string("has Parquet type ") + physical_name(n.physical) + (n.converted == 5 || n.logical == 5 ? " (DECIMAL)" : "") +
                    ", which prefer does not read",
                {.file = ctx.file, .field = ctx.field, .hint = "keep only text, number, boolean, list and struct columns"});
}

// `count` PLAIN-encoded values of leaf `n`.
void read_plain(const Node& n, Bytes& in, size_t count, std::vector<OrderedJson>& out, const ErrorContext& ctx) {
  switch (n.physical) {
    case kBoolean: {
      std::string_view bits = in.take((count + 7) / 8);
      for (size_t i = 0; i < count; ++i) out.push_back(((static_cast<uint8_t>(bits[i / 8]) >> (i % 8)) & 1) != 0);
      return;
    }
    case kInt32:
      for (size_t i = 0; i < count; ++i) out.push_back(int_value(n, in.le<int32_t>()));
      return;
    case kInt64:
      for (size_t i = 0; i < count; ++i) out.push_back(int_value(n, in.le<int64_t>()));
      return;
    case kFloat:
      for (size_t i = 0; i < count; ++i) out.push_back(static_cast<double>(in.le<float>()));
      return;
    case kDouble:
      for (size_t i = 0; i < count; ++i) out.push_back(in.le<double>());
      return;
    case kByteArray:
      for (size_t i = 0; i < count; ++i) out.push_back(text_value(in.take(in.le<uint32_t>()), ctx));
      return;
    case kFixedLen:  // FLOAT16 (check_readable let nothing else through)
      if (n.type_length != 2) throw Error("a FLOAT16 column has type_length " + std::to_string(n.type_length), ctx);
      for (size_t i = 0; i < count; ++i) out.push_back(float16_to_double(in.le<uint16_t>()));
      return;
  }
  check_readable(n, ctx);
}

struct Triples {
  std::vector<uint16_t> rep, def;
  std::vector<OrderedJson> values;  // one per def == max_def
};

// The values of one data page, by its encoding, appended to `t.values`.
void read_values(const Node& n, int encoding, Bytes& in, size_t count, const std::vector<OrderedJson>* dict, Triples& t,
                 const ErrorContext& ctx) {
  if (encoding == kPlain) return read_plain(n, in, count, t.values, ctx);
  if (encoding == kRleDictionary || encoding == kPlainDictionary) {
    if (dict == nullptr) throw Error("a page is dictionary-encoded but the column has no dictionary page", ctx);
    if (count == 0) return;
    int width = static_cast<uint8_t>(in.take(1)[0]);
    for (uint64_t k : read_hybrid(in, width, count)) {
      if (k >= dict->size()) throw Error("holds dictionary index " + std::to_string(k) + " past the dictionary", ctx);
      t.values.push_back((*dict)[static_cast<size_t>(k)]);
    }
    return;
  }
  if (encoding == kRle && n.physical == kBoolean) {
    Bytes body(in.take(in.le<uint32_t>()), ctx);
    for (uint64_t b : read_hybrid(body, 1, count)) t.values.push_back(b != 0);
    return;
  }
  if (encoding == kDeltaBinaryPacked && (n.physical == kInt32 || n.physical == kInt64)) {
    for (int64_t v : read_delta(in, count)) t.values.push_back(int_value(n, n.physical == kInt32 ? static_cast<int32_t>(v) : v));
    return;
  }
  auto length = [&](int64_t v) {
    if (v < 0 || static_cast<uint64_t>(v) > in.left()) throw Error("a page records a value length past its end", ctx);
    return static_cast<size_t>(v);
  };
  if (encoding == kDeltaLengthByteArray && n.physical == kByteArray) {  // the lengths (delta-packed), then the bytes
    for (int64_t len : read_delta(in, count)) t.values.push_back(text_value(in.take(length(len)), ctx));
    return;
  }
  if (encoding == kDeltaByteArray && n.physical == kByteArray) {
    // Incremental: each value is a prefix of the previous one plus a suffix; prefix lengths, suffix
    // lengths (both delta-packed), then the suffixes' bytes.
    const std::vector<int64_t> prefix = read_delta(in, count), suffix = read_delta(in, count);
    std::string prev;
    for (size_t i = 0; i < count; ++i) {
      if (prefix[i] < 0 || static_cast<uint64_t>(prefix[i]) > prev.size()) throw Error("a page's shared prefix is longer than the previous value", ctx);
      std::string v = prev.substr(0, static_cast<size_t>(prefix[i]));
      v += in.take(length(suffix[i]));
      t.values.push_back(text_value(v, ctx));
      prev = std::move(v);
    }
    return;
  }
  if (encoding == kByteStreamSplit && n.physical != kBoolean && n.physical != kByteArray && n.physical != kInt96) {
    // Byte k of every value is stored together (stream k); put each value's bytes back together, then read as PLAIN.
    const size_t width = n.physical == kInt32 || n.physical == kFloat ? 4 : n.physical == kFixedLen ? static_cast<size_t>(std::max(0, n.type_length)) : 8;
    if (width == 0 || count > in.left() / width) throw Error("a BYTE_STREAM_SPLIT page is shorter than its values", ctx);
    std::string_view streams = in.take(count * width);
    std::string plain(count * width, '\0');
    for (size_t i = 0; i < count; ++i)
      for (size_t k = 0; k < width; ++k) plain[i * width + k] = streams[k * count + i];
    Bytes values(plain, ctx);
    return read_plain(n, values, count, t.values, ctx);
  }
  throw Error("uses Parquet encoding " + std::to_string(encoding) + ", which prefer does not read",
              {.file = ctx.file, .field = ctx.field, .hint = "rewrite the file with PLAIN or dictionary encoding (pyarrow's defaults)"});
}

Codec codec_of(int64_t c, const ErrorContext& ctx) {
  switch (c) {
    case 0: return Codec::Uncompressed;
    case 1: return Codec::Snappy;
    case 2: return Codec::Gzip;
    case 6: return Codec::Zstd;
  }
  static const char* names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"};
  throw Error(std::string("is compressed with ") + (c >= 0 && c < 8 ? names[c] : "an unknown codec") + ", which prefer does not read",
              {.file = ctx.file, .field = ctx.field, .hint = "rewrite it with SNAPPY, ZSTD, GZIP or no compression"});
}

// All triples of one column chunk.
Triples read_chunk(std::string_view file, const ThriftStruct& meta, const Leaf& leaf, const ErrorContext& ctx) {
  const Node& n = *leaf.path.back();
  const int max_def = n.def, max_rep = n.rep;
  Codec codec = codec_of(thrift_int(meta, 4, 0, ctx), ctx);
  int64_t num_values = thrift_int(meta, 5, 0, ctx);
  int64_t data_off = thrift_int(meta, 9, 0, ctx);
  int64_t dict_off = thrift_int(meta, 11, 0, ctx);
  int64_t total = thrift_int(meta, 7, 0, ctx);
  int64_t start = dict_off > 0 && dict_off < data_off ? dict_off : data_off;
  if (start < 4 || total < 0 || num_values < 0 || static_cast<uint64_t>(start) > file.size() || static_cast<uint64_t>(total) > file.size() - start)
    throw Error("a column chunk lies outside the file", ctx);
  std::string_view chunk = file.substr(static_cast<size_t>(start), static_cast<size_t>(total));
  Triples t;
  std::vector<OrderedJson> dict;
  bool have_dict = false;
  size_t pos = 0;
  int64_t seen = 0;
  while (seen < num_values) {
    if (pos >= chunk.size()) throw Error("a column chunk ends before its values do (truncated?)", ctx);
    ThriftStruct h = read_thrift_struct(chunk, pos, ctx);
    int64_t type = thrift_int(h, 1, -1, ctx);
    int64_t raw_size = thrift_int(h, 2, -1, ctx), packed_size = thrift_int(h, 3, -1, ctx);
    if (raw_size < 0 || packed_size < 0 || static_cast<uint64_t>(packed_size) > chunk.size() - pos || raw_size > (int64_t{1} << 31))
      throw Error("a page header records sizes past its column chunk", ctx);
    std::string_view page = chunk.substr(pos, static_cast<size_t>(packed_size));
    pos += static_cast<size_t>(packed_size);
    if (type == kDictionaryPage) {
      const ThriftStruct* dh = thrift_struct(h, 7, ctx);
      int64_t count = dh ? thrift_int(*dh, 1, 0, ctx) : 0;
      if (count < 0 || count > raw_size + 1) throw Error("a dictionary page claims more values than it has bytes", ctx);
      std::string body = decompress(codec, page, static_cast<size_t>(raw_size), ctx);
      Bytes in(body, ctx);
      dict.clear();
      read_plain(n, in, static_cast<size_t>(count), dict, ctx);
      have_dict = true;
      continue;
    }
    if (type != kDataPage && type != kDataPageV2) continue;  // index pages hold nothing to read
    std::string body;
    std::string_view levels_rep, levels_def, values;
    int64_t count = 0;
    int encoding = kPlain;
    bool v1 = type == kDataPage;
    if (v1) {
      const ThriftStruct* dh = thrift_struct(h, 5, ctx);
      if (dh == nullptr) throw Error("a data page has no header", ctx);
      count = thrift_int(*dh, 1, 0, ctx);
      encoding = static_cast<int>(thrift_int(*dh, 2, 0, ctx));
      if ((max_def > 0 && thrift_int(*dh, 3, kRle, ctx) != kRle) || (max_rep > 0 && thrift_int(*dh, 4, kRle, ctx) != kRle))
        throw Error("a data page stores its levels BIT_PACKED (deprecated), which prefer does not read", ctx);
      body = decompress(codec, page, static_cast<size_t>(raw_size), ctx);
      values = body;
    } else {
      const ThriftStruct* dh = thrift_struct(h, 8, ctx);
      if (dh == nullptr) throw Error("a data page has no header", ctx);
      count = thrift_int(*dh, 1, 0, ctx);
      encoding = static_cast<int>(thrift_int(*dh, 4, 0, ctx));
      int64_t def_len = thrift_int(*dh, 5, 0, ctx), rep_len = thrift_int(*dh, 6, 0, ctx);
      bool compressed = thrift_int(*dh, 7, 1, ctx) != 0;
      if (def_len < 0 || rep_len < 0 || def_len + rep_len > packed_size || def_len + rep_len > raw_size)
        throw Error("a data page's level sizes exceed the page", ctx);
      levels_rep = page.substr(0, static_cast<size_t>(rep_len));
      levels_def = page.substr(static_cast<size_t>(rep_len), static_cast<size_t>(def_len));
      std::string_view rest = page.substr(static_cast<size_t>(rep_len + def_len));
      size_t rest_raw = static_cast<size_t>(raw_size - rep_len - def_len);
      body = compressed ? decompress(codec, rest, rest_raw, ctx) : std::string(rest);
      values = body;
    }
    // A claimed count far beyond what the page could encode is corruption, not a reason to allocate.
    if (count < 0 || count > std::max<int64_t>(int64_t{1} << 20, 64 * (raw_size + 1)))
      throw Error("a data page claims " + std::to_string(count) + " values", ctx);
    size_t k = static_cast<size_t>(count);
    Bytes in(values, ctx);
    auto levels = [&](int max, std::string_view v2_bytes, std::vector<uint16_t>& out) {
      if (max == 0) {
        out.insert(out.end(), k, 0);
        return;
      }
      if (v1) {
        Bytes run(in.take(in.le<uint32_t>()), ctx);  // v1: u32 length, then the hybrid runs
        for (uint64_t x : read_hybrid(run, bit_width(max), k)) out.push_back(static_cast<uint16_t>(std::min<uint64_t>(x, 0xffff)));
      } else {
        Bytes run(v2_bytes, ctx);
        for (uint64_t x : read_hybrid(run, bit_width(max), k)) out.push_back(static_cast<uint16_t>(std::min<uint64_t>(x, 0xffff)));
      }
    };
    size_t first = t.def.size();
    levels(max_rep, levels_rep, t.rep);
    levels(max_def, levels_def, t.def);
    size_t present = 0;
    for (size_t i = first; i < t.def.size(); ++i) {
      if (t.def[i] > max_def || t.rep[i] > max_rep) throw Error("a page holds a level above the column's maximum", ctx);
      present += t.def[i] == max_def;
    }
    read_values(n, encoding, in, present, have_dict ? &dict : nullptr, t, ctx);
    seen += count;
  }
  return t;
}

// --- Assembly -------------------------------------------------------------------------------------

// Writes one leaf's triples into the rows' raw trees (groups: objects; repeated fields: arrays).
// `rows` grows to at most `num_rows` as rows start (the first leaf creates them; a file's claim alone
// never allocates).
void assemble(const Leaf& leaf, const Triples& t, std::vector<OrderedJson>& rows, size_t num_rows, const ErrorContext& ctx) {
  const size_t depth = leaf.path.size();
  std::vector<size_t> index(depth, 0);  // position in the current list instance, per repeated level
  int64_t row = -1;
  size_t next_value = 0;
  for (size_t i = 0; i < t.def.size(); ++i) {
    int r = t.rep[i], d = t.def[i];
    if (r == 0) ++row;
    if (row < 0 || static_cast<size_t>(row) >= num_rows) throw Error("column '" + leaf.dotted + "' holds more rows than its row group", ctx);
    if (static_cast<size_t>(row) == rows.size()) rows.push_back(OrderedJson::object());
    OrderedJson* cur = &rows[static_cast<size_t>(row)];
    for (size_t k = 0; k < depth; ++k) {
      const Node& node = *leaf.path[k];
      OrderedJson& slot = (*cur)[node.name];
      bool last = k + 1 == depth;
      if ((node.repetition == kRepeated && !slot.is_null() && !slot.is_array()) ||
          (!last && node.repetition != kRepeated && !slot.is_null() && !slot.is_object()))
        throw Error("column '" + leaf.dotted + "' does not fit the rows its schema describes", ctx);
      if (node.repetition == kRepeated) {
        if (slot.is_null()) slot = OrderedJson::array();
        if (d < node.def) break;  // an empty list
        if (r < node.rep) index[k] = 0;             // the first element of a new list
        else if (r == node.rep) ++index[k];         // the next element of this list
        size_t at = index[k];
        if (at > slot.size()) throw Error("column '" + leaf.dotted + "' has inconsistent repetition levels", ctx);
        if (at == slot.size()) slot.push_back(last ? OrderedJson() : OrderedJson::object());
        if (last) {
          if (next_value >= t.values.size()) throw Error("column '" + leaf.dotted + "' has fewer values than levels", ctx);
          slot[at] = t.values[next_value++];
        }
        cur = &slot[at];
      } else {
        if (d < node.def) {  // this optional node is null
          slot = nullptr;
          break;
        }
        if (last) {
          if (next_value >= t.values.size()) throw Error("column '" + leaf.dotted + "' has fewer values than levels", ctx);
          slot = t.values[next_value++];
        } else if (!slot.is_object()) {
          slot = OrderedJson::object();
        }
        cur = &slot;
      }
    }
  }
  if (static_cast<size_t>(row + 1) != num_rows)
    throw Error("column '" + leaf.dotted + "' holds " + std::to_string(row + 1) + " rows where its row group has " + std::to_string(num_rows), ctx);
}

OrderedJson shape(const Node& n, OrderedJson raw, int depth);

// A field's value in its parent's raw object: repeated fields are arrays of element values.
OrderedJson shape_field(const Node& n, OrderedJson& parent, int depth) {
  auto it = parent.find(n.name);
  if (it == parent.end()) return n.repetition == kRepeated ? OrderedJson::array() : OrderedJson();
  if (n.repetition != kRepeated) return shape(n, std::move(*it), depth);
  OrderedJson out = OrderedJson::array();
  if (it->is_array())
    for (auto& e : *it) out.push_back(shape(n, std::move(e), depth));
  return out;
}

OrderedJson shape(const Node& n, OrderedJson raw, int depth) {
  if (raw.is_null() || n.leaf()) return raw;
  if ((n.is_list() || n.is_map()) && n.children.size() == 1 && n.children[0].repetition == kRepeated) {
    const Node& rep = n.children[0];
    OrderedJson items = OrderedJson::array();
    auto it = raw.find(rep.name);
    // LogicalTypes.md's backward-compatibility rules: a repeated group of one field is a wrapper
    // around the element unless it is named "array" or "<list>_tuple".
    bool wrapper = !rep.leaf() && rep.children.size() == 1 && rep.name != "array" && rep.name != n.name + "_tuple";
    if (it != raw.end() && it->is_array())
      for (auto& e : *it) items.push_back(wrapper && !n.is_map() ? shape_field(rep.children[0], e, depth + 1) : shape(rep, std::move(e), depth + 1));
    if (!n.is_map()) return items;
    // A map with text keys reads as an object, like JSON; other keys stay a list of {key, value}.
    bool text_keys = true;
    for (const auto& e : items) text_keys = text_keys && e.is_object() && e.contains("key") && e["key"].is_string();
    if (!text_keys) return items;
    OrderedJson obj = OrderedJson::object();
    for (auto& e : items) obj[e["key"].get<std::string>()] = e.contains("value") ? std::move(e["value"]) : OrderedJson();
    return obj;
  }
  OrderedJson obj = OrderedJson::object();
  for (const Node& c : n.children) obj[c.name] = shape_field(c, raw, depth + 1);
  return obj;
}

}  // namespace

void read_parquet_rows(const fs::path& file, const RowVisitor& visit) {
  MappedFile map(file);
  read_parquet_rows(map.view(), file.string(), visit);
}

void read_parquet_rows(std::string_view v, const std::string& name, const RowVisitor& visit) {
  ErrorContext ctx{.file = name};
  if (v.size() < 12 || v.substr(0, 4) != "PAR1" || v.substr(v.size() - 4) != "PAR1")
    throw Error("is not a Parquet file (no PAR1 magic at both ends; truncated?)", {.file = ctx.file, .hint = "encrypted Parquet (PARE) is not supported"});
  uint32_t meta_len;
  std::memcpy(&meta_len, v.data() + v.size() - 8, 4);
  if (meta_len > v.size() - 12) throw Error("the Parquet footer length points before the file's start", ctx);
  std::string_view meta_bytes = v.substr(v.size() - 8 - meta_len, meta_len);
  size_t pos = 0;
  ThriftStruct meta = read_thrift_struct(meta_bytes, pos, ctx);
  const auto& elems = thrift_list(meta, 2, ctx);
  if (elems.empty()) throw Error("the Parquet schema is empty", ctx);
  size_t i = 0;
  Node root = build_schema(elems, i, 0, 0, 0, ctx);
  std::vector<Leaf> leaves;
  std::vector<const Node*> path;
  for (const Node& c : root.children) collect_leaves(c, path, leaves);
  int64_t row = 0;
  for (const ThriftValue& rg : thrift_list(meta, 4, ctx)) {
    if (rg.kind != ThriftValue::Kind::Struct) throw Error("a row group is malformed", ctx);
    const auto& chunks = thrift_list(*rg.fields, 1, ctx);
    int64_t num_rows = thrift_int(*rg.fields, 3, 0, ctx);
    if (chunks.size() != leaves.size()) throw Error("a row group has " + std::to_string(chunks.size()) + " column chunks for " + std::to_string(leaves.size()) + " columns", ctx);
    if (num_rows < 0) throw Error("a row group claims " + std::to_string(num_rows) + " rows", ctx);
    std::vector<OrderedJson> rows;
    for (size_t c = 0; c < leaves.size(); ++c) {
      ErrorContext cc = ctx;
      cc.field = leaves[c].dotted;
      check_readable(*leaves[c].path.back(), cc);
      if (chunks[c].kind != ThriftValue::Kind::Struct) throw Error("a column chunk is malformed", cc);
      if (!thrift_string(*chunks[c].fields, 1, cc).empty()) throw Error("its data lives in another file, which prefer does not follow", cc);
      const ThriftStruct* cm = thrift_struct(*chunks[c].fields, 3, cc);
      if (cm == nullptr) throw Error("a column chunk has no metadata", cc);
      assemble(leaves[c], read_chunk(v, *cm, leaves[c], cc), rows, static_cast<size_t>(num_rows), ctx);
    }
    for (auto& r : rows) {
      OrderedJson obj = OrderedJson::object();
      for (const Node& c : root.children) obj[c.name] = shape_field(c, r, 1);
      visit(std::move(obj), ++row);
    }
  }
}

}  // namespace prefer::io
