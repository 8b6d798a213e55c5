#include "io/tfevents.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>

#include "util/file.h"

namespace prefer::io {
namespace fs = std::filesystem;

namespace {

// Byte-at-a-time table for the reflected Castagnoli polynomial: fast enough for log records (a few
// hundred bytes per logging step), and small enough to check by eye.
constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();
constexpr uint32_t kMaskDelta = 0xa282ead8u;

// ---- protobuf wire format (https://protobuf.dev/programming-guides/encoding/) ----
enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_key(std::string& out, uint32_t field, WireType type) { put_varint(out, (uint64_t{field} << 3) | type); }
void put_fixed(std::string& out, uint64_t bits, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
}
void put_bytes(std::string& out, uint32_t field, std::string_view bytes) {
  put_key(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out.append(bytes);
}

// Reads fields of one message; every read checks the bounds.
class WireReader {
 public:
  WireReader(std::string_view bytes, const ErrorContext& ctx) : b_(bytes), ctx_(ctx) {}
  bool done() const { return pos_ >= b_.size(); }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= b_.size()) fail("truncated varint");
      const auto byte = static_cast<uint8_t>(b_[pos_++]);
      v |= uint64_t{byte & 0x7fu} << shift;
      if (!(byte & 0x80)) return v;
    }
    fail("varint longer than 10 bytes");
  }
  uint64_t fixed(int bytes) {
    if (b_.size() - pos_ < static_cast<size_t>(bytes)) fail("truncated fixed-width field");
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<uint8_t>(b_[pos_ + i])} << (8 * i);
    pos_ += bytes;
    return v;
  }
  std::string_view length_delimited() {
    const uint64_t n = varint();
    if (n > b_.size() - pos_) fail("length-delimited field runs past the end of its message");
    std::string_view s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  void skip(uint32_t type) {
    switch (type) {
      case kVarint: varint(); break;
      case kFixed64: fixed(8); break;
      case kLengthDelimited: length_delimited(); break;
      case kFixed32: fixed(4); break;
      default: fail("unsupported wire type " + std::to_string(type));
    }
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw Error("malformed Event protobuf: " + what + " at byte " + std::to_string(pos_), ctx_);
  }

 private:
  std::string_view b_;
  ErrorContext ctx_;
  size_t pos_ = 0;
};

TfScalar decode_value(std::string_view bytes, const ErrorContext& ctx, bool& has_simple_value) {
  WireReader r(bytes, ctx);
  TfScalar s;
  has_simple_value = false;
  while (!r.done()) {
    const uint64_t key = r.varint();
    const auto field = static_cast<uint32_t>(key >> 3), type = static_cast<uint32_t>(key & 7);
    if (field == 1 && type == kLengthDelimited) {
      s.tag = std::string(r.length_delimited());
    } else if (field == 2 && type == kFixed32) {
      s.value = std::bit_cast<float>(static_cast<uint32_t>(r.fixed(4)));
      has_simple_value = true;
    } else {
      r.skip(type);
    }
  }
  return s;
}

uint64_t read_le(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace

uint32_t crc32c(std::string_view data, uint32_t crc) {
  uint32_t c = ~crc;
  for (char ch : data) c = kCrcTable[(c ^ static_cast<uint8_t>(ch)) & 0xff] ^ (c >> 8);
  return ~c;
}

uint32_t crc32c_mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }

uint32_t crc32c_unmask(uint32_t masked) {
  const uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

std::string tfrecord_frame(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 16);
  put_fixed(out, data.size(), 8);
  put_fixed(out, crc32c_mask(crc32c(std::string_view(out.data(), 8))), 4);
  out.append(data);
  put_fixed(out, crc32c_mask(crc32c(data)), 4);
  return out;
}

std::string encode_event(const TfEvent& event) {
  std::string out;
  // Positive zero is the proto3 default and is not written; -0.0 has other bits and would be.
  if (std::bit_cast<uint64_t>(event.wall_time) != 0) {
    put_key(out, 1, kFixed64);
    put_fixed(out, std::bit_cast<uint64_t>(event.wall_time), 8);
  }
  if (event.step != 0) {
    put_key(out, 2, kVarint);
    put_varint(out, static_cast<uint64_t>(event.step));  // negative int64: 10-byte two's complement
  }
  if (!event.file_version.empty()) put_bytes(out, 3, event.file_version);
  if (!event.scalars.empty()) {
    std::string summary;
    for (const TfScalar& s : event.scalars) {
      std::string value;
      put_bytes(value, 1, s.tag);
      put_key(value, 2, kFixed32);
      put_fixed(value, std::bit_cast<uint32_t>(s.value), 4);
      put_bytes(summary, 1, value);
    }
    put_bytes(out, 5, summary);
  }
  if (event.session_status != 0) {
    std::string log;
    put_key(log, 1, kVarint);
    put_varint(log, static_cast<uint64_t>(static_cast<int64_t>(event.session_status)));
    put_bytes(out, 7, log);
  }
  return out;
}

TfEvent decode_event(std::string_view bytes, const ErrorContext& ctx) {
  WireReader r(bytes, ctx);
  TfEvent e;
  while (!r.done()) {
    const uint64_t key = r.varint();
    const auto field = static_cast<uint32_t>(key >> 3), type = static_cast<uint32_t>(key & 7);
    if (field == 1 && type == kFixed64) {
      e.wall_time = std::bit_cast<double>(r.fixed(8));
    } else if (field == 2 && type == kVarint) {
      e.step = static_cast<int64_t>(r.varint());
    } else if (field == 3 && type == kLengthDelimited) {
      e.file_version = std::string(r.length_delimited());
    } else if (field == 5 && type == kLengthDelimited) {
      WireReader summary(r.length_delimited(), ctx);
      while (!summary.done()) {
        const uint64_t k = summary.varint();
        if ((k >> 3) == 1 && (k & 7) == kLengthDelimited) {
          bool has_value = false;
          TfScalar s = decode_value(summary.length_delimited(), ctx, has_value);
          if (has_value) e.scalars.push_back(std::move(s));
        } else {
          summary.skip(static_cast<uint32_t>(k & 7));
        }
      }
    } else if (field == 7 && type == kLengthDelimited) {
      WireReader log(r.length_delimited(), ctx);
      while (!log.done()) {
        const uint64_t k = log.varint();
        if ((k >> 3) == 1 && (k & 7) == kVarint)
          e.session_status = static_cast<int32_t>(log.varint());
        else
          log.skip(static_cast<uint32_t>(k & 7));
      }
    } else {
      r.skip(type);
    }
  }
  return e;
}

std::vector<TfEvent> read_tfevents(const fs::path& path) {
  const std::string bytes = read_file(path);
  std::vector<TfEvent> events;
  size_t pos = 0;
  while (pos < bytes.size()) {
    const ErrorContext ctx{.file = path.string(), .field = "record at byte " + std::to_string(pos)};
    if (bytes.size() - pos < 12) throw Error("truncated record header", ctx);
    const char* rec = bytes.data() + pos;
    const uint64_t n = read_le(rec, 8);
    if (crc32c_unmask(static_cast<uint32_t>(read_le(rec + 8, 4))) != crc32c(std::string_view(rec, 8)))
      throw Error("length CRC mismatch", {ctx.file, 0, ctx.field, "the file is corrupted or not an event file"});
    if (n > bytes.size() - pos - 12 || bytes.size() - pos - 12 - n < 4)
      throw Error("record of " + std::to_string(n) + " bytes runs past the end of the file", ctx);
    std::string_view data(rec + 12, n);
    if (crc32c_unmask(static_cast<uint32_t>(read_le(rec + 12 + n, 4))) != crc32c(data))
      throw Error("data CRC mismatch", {ctx.file, 0, ctx.field, "the file is corrupted"});
    events.push_back(decode_event(data, ctx));
    pos += 16 + n;
  }
  return events;
}

TfEventsWriter::TfEventsWriter(const fs::path& dir, Options options) : options_(std::move(options)) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("cannot create folder: " + ec.message(), {.file = dir.string()});
  static std::atomic<uint64_t> counter{0};
  const double t = now();
  char stamp[32];
  std::snprintf(stamp, sizeof(stamp), "%010lld", static_cast<long long>(std::floor(t)));
  path_ = dir / ("events.out.tfevents." + std::string(stamp) + "." + host_name() + "." +
                 std::to_string(::getpid()) + "." + std::to_string(counter++));
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(std::string("cannot create event file: ") + std::strerror(errno), {.file = path_.string()});
  std::string records = tfrecord_frame(encode_event({.wall_time = t, .file_version = "brain.Event:2"}));
  if (options_.purge_step)
    records += tfrecord_frame(encode_event({.wall_time = t, .step = *options_.purge_step, .session_status = 1}));
  write_records(records);
}

TfEventsWriter::~TfEventsWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void TfEventsWriter::add_scalars(int64_t step, const std::vector<TfScalar>& scalars) {
  const double t = now();
  std::string records;
  for (const TfScalar& s : scalars)
    records += tfrecord_frame(encode_event({.wall_time = t, .step = step, .scalars = {s}}));
  write_records(records);
}

void TfEventsWriter::write_records(const std::string& bytes) {
  const char* p = bytes.data();
  size_t n = bytes.size();
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw Error(std::string("cannot write event file: ") + std::strerror(errno), {.file = path_.string()});
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

double TfEventsWriter::now() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace prefer::io
