#include "io/parquet_encoding.h"

#include <algorithm>

namespace prefer::io {

// `count` values of `width` bits, packed least-significant bit first.
void unpack_bits(std::string_view bytes, int width, size_t count, std::vector<uint64_t>& out) {
  uint64_t mask = width == 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1;
  size_t bit = 0;
  for (size_t k = 0; k < count; ++k) {
    uint64_t v = 0;
    for (int got = 0; got < width;) {
      size_t byte = bit / 8;
      int off = static_cast<int>(bit % 8);
      int n = std::min(8 - off, width - got);
      uint64_t b = byte < bytes.size() ? static_cast<uint8_t>(bytes[byte]) : 0;
      v |= ((b >> off) & ((1u << n) - 1)) << got;
      got += n;
      bit += static_cast<size_t>(n);
    }
    out.push_back(v & mask);
  }
}

// The RLE / bit-packing hybrid (Encodings.md): runs of `header` varints, odd = bit-packed groups of 8,
// even = one value repeated. Exactly `count` values come out; extra padding values are dropped.
std::vector<uint64_t> read_hybrid(Bytes& in, int width, size_t count) {
  if (width < 0 || width > 32) throw Error("a page uses bit width " + std::to_string(width), in.ctx());
  std::vector<uint64_t> out;
  out.reserve(std::min<size_t>(count, 1 << 20));
  while (out.size() < count) {
    uint64_t header = in.uleb();
    if (header & 1) {
      uint64_t groups = header >> 1;
      if (groups > in.left() + 1) throw Error("a bit-packed run is longer than its page", in.ctx());
      size_t values = static_cast<size_t>(groups * 8);
      std::string_view bytes = in.take(std::min<size_t>(static_cast<size_t>(groups * static_cast<uint64_t>(width)), in.left()));
      size_t keep = std::min(values, count - out.size());
      unpack_bits(bytes, width, keep, out);
    } else {
      uint64_t run = header >> 1;
      std::string_view b = in.take(static_cast<size_t>((width + 7) / 8));
      uint64_t v = 0;
      for (size_t k = 0; k < b.size(); ++k) v |= static_cast<uint64_t>(static_cast<uint8_t>(b[k])) << (8 * k);
      if (run == 0) throw Error("a page holds an empty RLE run", in.ctx());
      size_t keep = static_cast<size_t>(std::min<uint64_t>(run, count - out.size()));
      out.insert(out.end(), keep, v);
    }
  }
  return out;
}

int bit_width(int64_t max_value) {
  int w = 0;
  while (max_value > 0) {
    ++w;
    max_value >>= 1;
  }
  return w;
}

// DELTA_BINARY_PACKED (Encodings.md): a header <block size, miniblocks per block, count, first value>,
// then blocks of <min delta, one bit width per miniblock, the miniblocks>.
std::vector<int64_t> read_delta(Bytes& in, size_t want) {
  uint64_t block = in.uleb(), minis = in.uleb(), total = in.uleb();
  int64_t first = in.zigzag();
  if (block == 0 || minis == 0 || block % 128 != 0 || block / minis % 32 != 0 || minis > block)
    throw Error("a DELTA_BINARY_PACKED header is malformed", in.ctx());
  if (total < want) throw Error("a DELTA_BINARY_PACKED page holds fewer values than its header says", in.ctx());
  std::vector<int64_t> out;
  out.reserve(std::min<size_t>(want, 1 << 20));
  if (want == 0) return out;
  out.push_back(first);
  uint64_t per_mini = block / minis;
  uint64_t prev = static_cast<uint64_t>(first);
  std::vector<uint64_t> deltas;
  while (out.size() < want) {
    uint64_t min_delta = static_cast<uint64_t>(in.zigzag());
    std::string_view widths = in.take(static_cast<size_t>(minis));
    for (uint64_t m = 0; m < minis && out.size() < want; ++m) {
      int w = static_cast<uint8_t>(widths[m]);
      if (w > 64) throw Error("a DELTA_BINARY_PACKED miniblock has bit width " + std::to_string(w), in.ctx());
      std::string_view bytes = in.take(std::min<size_t>(static_cast<size_t>(per_mini * w / 8), in.left()));
      deltas.clear();
      unpack_bits(bytes, w, static_cast<size_t>(std::min<uint64_t>(per_mini, want - out.size())), deltas);
      for (uint64_t d : deltas) {
        prev += min_delta + d;  // wraps as the spec's two's-complement arithmetic does
        out.push_back(static_cast<int64_t>(prev));
      }
    }
  }
  return out;
}

}  // namespace prefer::io
