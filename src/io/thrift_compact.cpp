#include "io/thrift_compact.h"

#include <cstring>

namespace prefer::io {

namespace {

constexpr int kMaxDepth = 32;

// Compact protocol type ids.
namespace compact {
enum : uint8_t { kStop = 0, kTrue = 1, kFalse = 2, kByte = 3, kI16 = 4, kI32 = 5, kI64 = 6, kDouble = 7, kBinary = 8,
                 kList = 9, kSet = 10, kMap = 11, kStruct = 12, kUuid = 13 };
}  // namespace compact

class Reader {
 public:
  Reader(std::string_view buf, size_t pos, const ErrorContext& ctx) : buf_(buf), pos_(pos), ctx_(ctx) {}
  size_t pos() const { return pos_; }

  ThriftStruct structure(int depth) {
    if (depth > kMaxDepth) fail("nests deeper than " + std::to_string(kMaxDepth) + " levels");
    ThriftStruct out;
    int16_t last = 0;
    while (true) {
      uint8_t h = byte();
      uint8_t type = h & 0x0f;
      if (type == compact::kStop) return out;
      int16_t delta = static_cast<int16_t>(h >> 4);
      int16_t id = delta != 0 ? static_cast<int16_t>(last + delta) : static_cast<int16_t>(zigzag(varint()));
      last = id;
      ThriftValue v;
      if (type == compact::kTrue || type == compact::kFalse) {
        v.kind = ThriftValue::Kind::Bool;
        v.i = type == compact::kTrue;
      } else {
        v = value(type, depth);
      }
      out[id] = std::move(v);
    }
  }

 private:
  [[noreturn]] void fail(const std::string& why) const { throw Error("the Thrift metadata is malformed: " + why, ctx_); }
  uint8_t byte() {
    if (pos_ >= buf_.size()) fail("it ends early");
    return static_cast<uint8_t>(buf_[pos_++]);
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = byte();
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("a varint runs over 10 bytes");
  }
  static int64_t zigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }
  size_t count(uint64_t n) const {
    // Every element takes at least one byte except booleans in a list, which also take one: so a count
    // past the bytes left is a lie.
    if (n > buf_.size() - pos_) fail("a collection claims more elements than there are bytes");
    return static_cast<size_t>(n);
  }

  ThriftValue value(uint8_t type, int depth) {
    ThriftValue v;
    switch (type) {
      case compact::kTrue: case compact::kFalse:  // inside a list: one byte per boolean
        v.kind = ThriftValue::Kind::Bool;
        v.i = byte() == 1;
        return v;
      case compact::kByte:
        v.kind = ThriftValue::Kind::Int;
        v.i = static_cast<int8_t>(byte());
        return v;
      case compact::kI16: case compact::kI32: case compact::kI64:
        v.kind = ThriftValue::Kind::Int;
        v.i = zigzag(varint());
        return v;
      case compact::kDouble: {
        if (buf_.size() - pos_ < 8) fail("it ends early");
        v.kind = ThriftValue::Kind::Double;
        std::memcpy(&v.d, buf_.data() + pos_, 8);
        pos_ += 8;
        return v;
      }
      case compact::kBinary: {
        size_t n = count(varint());
        v.kind = ThriftValue::Kind::Binary;
        v.bytes = std::string(buf_.substr(pos_, n));
        pos_ += n;
        return v;
      }
      case compact::kUuid: {
        if (buf_.size() - pos_ < 16) fail("it ends early");
        pos_ += 16;
        return v;
      }
      case compact::kList: case compact::kSet: {
        if (depth > kMaxDepth) fail("nests too deep");
        uint8_t h = byte();
        uint64_t n = h >> 4;
        if (n == 15) n = varint();
        uint8_t et = h & 0x0f;
        v.kind = ThriftValue::Kind::List;
        size_t k = count(n);
        v.list.reserve(k);
        for (size_t i = 0; i < k; ++i) v.list.push_back(value(et, depth + 1));
        return v;
      }
      case compact::kMap: {
        if (depth > kMaxDepth) fail("nests too deep");
        size_t n = count(varint());
        if (n == 0) return v;
        uint8_t kv = byte();
        for (size_t i = 0; i < n; ++i) {
          value(kv >> 4, depth + 1);
          value(kv & 0x0f, depth + 1);
        }
        return v;  // maps are not used by Parquet's metadata: skipped
      }
      case compact::kStruct:
        v.kind = ThriftValue::Kind::Struct;
        v.fields = std::make_shared<ThriftStruct>(structure(depth + 1));
        return v;
    }
    fail("unknown type id " + std::to_string(type));
  }

  std::string_view buf_;
  size_t pos_;
  ErrorContext ctx_;
};

const ThriftValue* find(const ThriftStruct& s, int16_t id, ThriftValue::Kind kind, const char* what, const ErrorContext& ctx) {
  auto it = s.find(id);
  if (it == s.end()) return nullptr;
  if (it->second.kind != kind)
    throw Error("the Thrift metadata is malformed: field " + std::to_string(id) + " is not " + what, ctx);
  return &it->second;
}

}  // namespace

ThriftStruct read_thrift_struct(std::string_view buf, size_t& pos, const ErrorContext& ctx) {
  Reader r(buf, pos, ctx);
  ThriftStruct s = r.structure(0);
  pos = r.pos();
  return s;
}

bool thrift_has(const ThriftStruct& s, int16_t id) { return s.count(id) != 0; }

int64_t thrift_int(const ThriftStruct& s, int16_t id, int64_t fallback, const ErrorContext& ctx) {
  auto it = s.find(id);
  if (it == s.end()) return fallback;
  if (it->second.kind != ThriftValue::Kind::Int && it->second.kind != ThriftValue::Kind::Bool)
    throw Error("the Thrift metadata is malformed: field " + std::to_string(id) + " is not an integer", ctx);
  return it->second.i;
}

std::string thrift_string(const ThriftStruct& s, int16_t id, const ErrorContext& ctx) {
  const ThriftValue* v = find(s, id, ThriftValue::Kind::Binary, "a string", ctx);
  return v ? v->bytes : std::string();
}

const ThriftStruct* thrift_struct(const ThriftStruct& s, int16_t id, const ErrorContext& ctx) {
  const ThriftValue* v = find(s, id, ThriftValue::Kind::Struct, "a struct", ctx);
  return v ? v->fields.get() : nullptr;
}

const std::vector<ThriftValue>& thrift_list(const ThriftStruct& s, int16_t id, const ErrorContext& ctx) {
  static const std::vector<ThriftValue> empty;
  const ThriftValue* v = find(s, id, ThriftValue::Kind::List, "a list", ctx);
  return v ? v->list : empty;
}

}  // namespace prefer::io
