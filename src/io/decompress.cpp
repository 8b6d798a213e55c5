#include "io/decompress.h"

#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <climits>

namespace prefer::io {

const char* codec_name(Codec c) {
  switch (c) {
    case Codec::Uncompressed: return "uncompressed";
    case Codec::Snappy: return "SNAPPY";
    case Codec::Gzip: return "GZIP";
    case Codec::Zstd: return "ZSTD";
  }
  return "?";
}

namespace {

[[noreturn]] void corrupt(Codec codec, const std::string& why, const ErrorContext& ctx) {
  throw Error(std::string("a ") + codec_name(codec) + " block is corrupt (" + why + ")", ctx);
}

std::string gunzip(std::string_view in, size_t size, const ErrorContext& ctx) {
  std::string out(size, '\0');
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) corrupt(Codec::Gzip, "zlib could not start", ctx);
  if (in.size() > UINT_MAX || size > UINT_MAX) {
    inflateEnd(&z);
    corrupt(Codec::Gzip, "block over 4 GiB", ctx);
  }
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(size);
  int rc = inflate(&z, Z_FINISH);
  size_t produced = size - z.avail_out;
  inflateEnd(&z);
  if (rc != Z_STREAM_END) corrupt(Codec::Gzip, rc == Z_BUF_ERROR ? "longer than recorded" : "zlib error " + std::to_string(rc), ctx);
  if (produced != size) corrupt(Codec::Gzip, "shorter than recorded", ctx);
  return out;
}

}  // namespace

std::string decompress(Codec codec, std::string_view in, size_t size, const ErrorContext& ctx) {
  switch (codec) {
    case Codec::Uncompressed:
      if (in.size() != size) corrupt(codec, std::to_string(in.size()) + " bytes where " + std::to_string(size) + " are recorded", ctx);
      return std::string(in);
    case Codec::Snappy: {
      size_t n = 0;
      if (!snappy::GetUncompressedLength(in.data(), in.size(), &n)) corrupt(codec, "no valid length", ctx);
      if (n != size) corrupt(codec, "inflates to " + std::to_string(n) + " bytes where " + std::to_string(size) + " are recorded", ctx);
      std::string out(size, '\0');
      if (!snappy::RawUncompress(in.data(), in.size(), out.data())) corrupt(codec, "snappy rejects it", ctx);
      return out;
    }
    case Codec::Gzip: return gunzip(in, size, ctx);
    case Codec::Zstd: {
      std::string out(size, '\0');
      size_t n = ZSTD_decompress(out.data(), size, in.data(), in.size());
      if (ZSTD_isError(n)) corrupt(codec, ZSTD_getErrorName(n), ctx);
      if (n != size) corrupt(codec, "inflates to " + std::to_string(n) + " bytes where " + std::to_string(size) + " are recorded", ctx);
      return out;
    }
  }
  corrupt(codec, "unknown codec", ctx);
}

}  // namespace prefer::io
