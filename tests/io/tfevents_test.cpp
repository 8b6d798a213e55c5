#include "io/tfevents.h"

#include <cstring>

#include "test_util.h"
#include "util/file.h"

namespace prefer::io {
namespace fs = std::filesystem;

namespace {

std::string bytes_of(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

uint32_t le32(const std::string& s, size_t at) {
  uint32_t v;
  std::memcpy(&v, s.data() + at, 4);  // x86-64 is little-endian, as the format is
  return v;
}

}  // namespace

// Published check values: the CRC catalogue's "check" of CRC-32C, and RFC 3720 (iSCSI) section B.4.
TEST(Crc32c, MatchesPublishedCheckValues) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c("The quick brown fox jumps over the lazy dog"), 0x22620404u);
  std::string buf(32, '\0');
  EXPECT_EQ(crc32c(buf), 0x8A9136AAu);
  buf.assign(32, '\xff');
  EXPECT_EQ(crc32c(buf), 0x62A8AB43u);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<char>(i);
  EXPECT_EQ(crc32c(buf), 0x46DD794Eu);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<char>(31 - i);
  EXPECT_EQ(crc32c(buf), 0x113FDB5Cu);
}

TEST(Crc32c, ExtendsAcrossPieces) {
  EXPECT_EQ(crc32c("56789", crc32c("1234")), 0xE3069283u);
}

TEST(Crc32c, MasksAsTfRecordDoes) {
  // By hand: 0xE3069283 rotated right by 15 is 0x1C60D | 0x1283 << 17 = 0x2507C60D; + 0xA282EAD8 = 0xC78AB0E5.
  EXPECT_EQ(crc32c_mask(0xE3069283u), 0xC78AB0E5u);
  EXPECT_EQ(crc32c_unmask(0xC78AB0E5u), 0xE3069283u);
  // The masked CRC the tfrecord_slow package's test pins for this input (an independent implementation).
  EXPECT_EQ(crc32c_mask(crc32c("1234567890asdfghjkl")), 4134599430u);
  for (uint32_t x : {0u, 1u, 0x80000000u, 0xffffffffu, 0x12345678u}) EXPECT_EQ(crc32c_unmask(crc32c_mask(x)), x);
}

TEST(TfEvents, EncodesAScalarEventByteForByte) {
  // Event{wall_time: 1.0, step: 1, summary{value{tag: "a", simple_value: 1.0}}}, encoded by hand:
  //   09 <1.0 as LE double>            field 1, fixed64
  //   10 01                            field 2, varint 1
  //   2A 0A                            field 5, 10 bytes of Summary
  //     0A 08                          Summary.value (field 1), 8 bytes of Value
  //       0A 01 61                     Value.tag (field 1) "a"
  //       15 <1.0f as LE float>        Value.simple_value (field 2, fixed32)
  const std::string expected = bytes_of({0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0x10, 0x01, 0x2A, 0x0A, 0x0A, 0x08, 0x0A,
                                         0x01, 0x61, 0x15, 0, 0, 0x80, 0x3F});
  EXPECT_EQ(encode_event({.wall_time = 1.0, .step = 1, .scalars = {{"a", 1.0f}}}), expected);
}

TEST(TfEvents, EncodesFileVersionSessionLogAndDefaults) {
  // wall_time and step at their proto3 defaults are left out; the oneof member is always written.
  EXPECT_EQ(encode_event({.file_version = "brain.Event:2"}), bytes_of({0x1A, 13}) + "brain.Event:2");
  // session_log (field 7) { status (field 1): START = 1 }
  EXPECT_EQ(encode_event({.step = 300, .session_status = 1}), bytes_of({0x10, 0xAC, 0x02, 0x3A, 0x02, 0x08, 0x01}));
  // A 0.0 scalar is still written (it is a oneof member).
  EXPECT_EQ(encode_event({.scalars = {{"z", 0.0f}}}),
            bytes_of({0x2A, 0x0A, 0x0A, 0x08, 0x0A, 0x01, 0x7A, 0x15, 0, 0, 0, 0}));
  // A negative step is a 10-byte two's complement varint.
  EXPECT_EQ(encode_event({.step = -1}), bytes_of({0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}));
}

TEST(TfEvents, FramesRecords) {
  const std::string data = "123456789";
  const std::string rec = tfrecord_frame(data);
  ASSERT_EQ(rec.size(), 8u + 4 + 9 + 4);
  EXPECT_EQ(rec.substr(0, 8), bytes_of({9, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(le32(rec, 8), crc32c_mask(crc32c(std::string_view(rec.data(), 8))));
  EXPECT_EQ(rec.substr(12, 9), data);
  EXPECT_EQ(le32(rec, 21), 0xC78AB0E5u);  // the masked check value from MasksAsTfRecordDoes
}

TEST(TfEvents, DecodesWhatItEncodesAndSkipsUnknownFields) {
  TfEvent e{.wall_time = 1700000000.25, .step = 42, .scalars = {{"train/loss", 0.6931f}, {"eval/x", -3.5f}}};
  std::string bytes = encode_event(e);
  // An unknown field (source_metadata, field 10, length-delimited) must be skipped.
  bytes += bytes_of({0x52, 0x03, 'a', 'b', 'c'});
  TfEvent d = decode_event(bytes);
  EXPECT_EQ(d.wall_time, 1700000000.25);
  EXPECT_EQ(d.step, 42);
  ASSERT_EQ(d.scalars.size(), 2u);
  EXPECT_EQ(d.scalars[0].tag, "train/loss");
  EXPECT_EQ(d.scalars[0].value, 0.6931f);
  EXPECT_EQ(d.scalars[1].value, -3.5f);
  EXPECT_ERROR_WITH(decode_event(bytes.substr(0, 5), {.file = "x.tfevents"}), "x.tfevents", "truncated");
}

TEST(TfEvents, WriterWritesAReadableFile) {
  test::TempDir tmp;
  double t = 1700000000.5;
  fs::path path;
  {
    TfEventsWriter w(tmp / "run", {.clock = [&] { return t; }});
    path = w.path();
    t += 1;
    w.add_scalars(10, {{"train/loss", 0.5f}, {"train/learning_rate", 1e-6f}});
    w.add_scalar(20, "eval/loss", 0.25f);
  }
  EXPECT_EQ(path.parent_path(), tmp / "run");
  const std::string name = path.filename().string();
  EXPECT_EQ(name.rfind("events.out.tfevents.1700000000.", 0), 0u) << name;

  std::vector<TfEvent> ev = read_tfevents(path);
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].file_version, "brain.Event:2");
  EXPECT_EQ(ev[0].wall_time, 1700000000.5);
  EXPECT_EQ(ev[1].step, 10);
  EXPECT_EQ(ev[1].wall_time, 1700000001.5);
  ASSERT_EQ(ev[1].scalars.size(), 1u);
  EXPECT_EQ(ev[1].scalars[0].tag, "train/loss");
  EXPECT_EQ(ev[1].scalars[0].value, 0.5f);
  EXPECT_EQ(ev[2].scalars[0].tag, "train/learning_rate");
  EXPECT_EQ(ev[2].scalars[0].value, 1e-6f);
  EXPECT_EQ(ev[3].step, 20);
  EXPECT_EQ(ev[3].scalars[0].tag, "eval/loss");

  // The file starts with the framed file-version event; 1700000000.5 as a little-endian double is
  // 00 00 20 40 FC 54 D9 41 (Python: struct.pack('<d', 1700000000.5)).
  std::string expected = tfrecord_frame(bytes_of({0x09}) + bytes_of({0x00, 0x00, 0x20, 0x40, 0xFC, 0x54, 0xD9, 0x41}) +
                                        bytes_of({0x1A, 13}) + "brain.Event:2");
  EXPECT_EQ(read_file(path).substr(0, expected.size()), expected);
}

TEST(TfEvents, ResumedWriterWritesAPurgeMarker) {
  test::TempDir tmp;
  TfEventsWriter first(tmp.path(), {.clock = [] { return 100.0; }});
  TfEventsWriter resumed(tmp.path(), {.purge_step = 51, .clock = [] { return 100.0; }});
  EXPECT_NE(first.path(), resumed.path());  // same second, same host: still two files
  std::vector<TfEvent> ev = read_tfevents(resumed.path());
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].session_status, 1);
  EXPECT_EQ(ev[1].step, 51);
}

TEST(TfEvents, ReaderRejectsCorruption) {
  test::TempDir tmp;
  std::string rec = tfrecord_frame(encode_event({.step = 3, .scalars = {{"a", 1.0f}}}));
  std::string bad = rec;
  bad[14] ^= 0x01;  // a data byte
  test::write_bytes(tmp / "bad", bad);
  EXPECT_ERROR_WITH(read_tfevents(tmp / "bad"), "bad", "data CRC mismatch", "record at byte 0");
  bad = rec;
  bad[0] ^= 0x01;  // the length
  test::write_bytes(tmp / "bad", bad);
  EXPECT_ERROR_WITH(read_tfevents(tmp / "bad"), "length CRC mismatch");
  test::write_bytes(tmp / "bad", rec + rec.substr(0, rec.size() - 2));
  const std::string where = "record at byte " + std::to_string(rec.size());
  EXPECT_ERROR_WITH(read_tfevents(tmp / "bad"), "runs past the end", where.c_str());
}

}  // namespace prefer::io
