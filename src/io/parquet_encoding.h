// Parquet's byte-level encodings (github.com/apache/parquet-format, Encodings.md), the part of reading
// a page that knows nothing of schemas: a checked cursor over a page, bit unpacking, the RLE /
// bit-packing hybrid (levels, dictionary indices, booleans) and DELTA_BINARY_PACKED. Every read is
// checked against the page; a count can never make more values than asked for.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "util/error.h"

namespace prefer::io {

class Bytes {
 public:
  Bytes(std::string_view s, const ErrorContext& ctx) : s_(s), ctx_(ctx) {}
  size_t left() const { return s_.size() - pos_; }
  bool done() const { return pos_ >= s_.size(); }
  std::string_view take(size_t n) {
    if (n > left()) throw Error("a page ends before its values do (corrupt or truncated)", ctx_);
    std::string_view v = s_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  template <class T>
  T le() {
    T v;
    std::memcpy(&v, take(sizeof(T)).data(), sizeof(T));
    return v;
  }
  uint64_t uleb() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = static_cast<uint8_t>(take(1)[0]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    throw Error("a page holds a varint over 10 bytes", ctx_);
  }
  int64_t zigzag() {
    uint64_t v = uleb();
    return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
  }
  const ErrorContext& ctx() const { return ctx_; }

 private:
  std::string_view s_;
  size_t pos_ = 0;
  ErrorContext ctx_;
};

// `count` values of `width` bits, packed least-significant bit first, appended to `out`.
void unpack_bits(std::string_view bytes, int width, size_t count, std::vector<uint64_t>& out);

// The RLE / bit-packing hybrid: runs of `header` varints, odd = bit-packed groups of 8, even = one value
// repeated. Exactly `count` values come out; extra padding values are dropped.
std::vector<uint64_t> read_hybrid(Bytes& in, int width, size_t count);

// Bits needed for values up to `max_value` (a level's bit width).
int bit_width(int64_t max_value);

// DELTA_BINARY_PACKED: a header <block size, miniblocks per block, count, first value>, then blocks of
// <min delta, one bit width per miniblock, the miniblocks>. Exactly `want` values.
std::vector<int64_t> read_delta(Bytes& in, size_t want);

}  // namespace prefer::io
