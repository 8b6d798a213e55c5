// TensorBoard event files (`events.out.tfevents.*`), written and read without TensorFlow or protobuf.
//
// A file is a sequence of TFRecords:
//   uint64 length (little-endian) | uint32 masked_crc32c(length bytes) | data[length] | uint32 masked_crc32c(data)
// with masked_crc = ((crc >> 15) | (crc << 17)) + 0xa282ead8 and CRC-32C the Castagnoli CRC. Each record's
// data is a serialized `tensorflow.Event` protobuf; we encode by hand the few fields TensorBoard's scalar
// dashboard needs (tensorflow/core/util/event.proto, tensorflow/core/framework/summary.proto):
//   Event      { double wall_time = 1; int64 step = 2;
//                oneof what { string file_version = 3; Summary summary = 5; SessionLog session_log = 7; } }
//   Summary    { repeated Value value = 1; }
//   Value      { string tag = 1; oneof value { float simple_value = 2; } }
//   SessionLog { SessionStatus status = 1; }   (START = 1)
// As a protobuf serializer does, `wall_time` and `step` are left out when zero (proto3 defaults), while a
// oneof member is always written (a 0.0 scalar is still a value). The first record of every file is the
// `file_version: "brain.Event:2"` event TensorBoard looks for.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"

namespace prefer::io {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), continuing from `crc` (0 to start), as
// TensorFlow's crc32c::Extend. crc32c("123456789") = 0xE3069283.
uint32_t crc32c(std::string_view data, uint32_t crc = 0);
// The TFRecord mask and its inverse.
uint32_t crc32c_mask(uint32_t crc);
uint32_t crc32c_unmask(uint32_t masked);

// `data` framed as one TFRecord.
std::string tfrecord_frame(std::string_view data);

struct TfScalar {
  std::string tag;
  float value = 0;  // Summary.Value.simple_value is a float: TensorBoard stores scalars in float32
};

// The fields of an Event that we write and read. Exactly one of file_version / scalars / session_status
// is meaningful for an event we write; a decoded event keeps whatever it held.
struct TfEvent {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;      // non-empty: a file-version event
  std::vector<TfScalar> scalars;  // a summary event (Summary.value entries with a simple_value)
  int32_t session_status = 0;    // SessionLog.status (1 = START), 0 = no session log
};

// Protobuf wire format of `event`.
std::string encode_event(const TfEvent& event);
// Parses Event bytes; unknown fields (graph_def, tensor summaries ...) are skipped. Truncated or malformed
// input throws prefer::Error with `ctx` (the caller names file and record).
TfEvent decode_event(std::string_view bytes, const ErrorContext& ctx = {});

// Every event of a file, in order. Both CRCs of every record are checked; a bad CRC, a truncated record or
// a malformed event throws naming the file and the record's byte offset.
std::vector<TfEvent> read_tfevents(const std::filesystem::path& path);

// Appends events to a new file in `dir` named like PyTorch's SummaryWriter names them:
// `events.out.tfevents.<10-digit unix time>.<host>.<pid>.<n>`. Each call's records are written with one
// write() and so reach the OS before the call returns (a crash loses nothing already logged).
class TfEventsWriter {
 public:
  struct Options {
    // When set (resuming from a checkpoint at step S: purge_step = S + 1), a SessionLog START event at
    // this step follows the file version. TensorBoard then hides the events of earlier files with
    // step >= purge_step, which an interrupted run wrote after its last checkpoint (PyTorch's
    // SummaryWriter(purge_step=...) does the same).
    std::optional<int64_t> purge_step;
    std::function<double()> clock;  // unix seconds; the system clock when empty (tests inject their own)
  };

  // Creates `dir` if needed and the file (never overwriting one), then writes the file-version event.
  explicit TfEventsWriter(const std::filesystem::path& dir, Options options = {});
  ~TfEventsWriter();
  TfEventsWriter(const TfEventsWriter&) = delete;
  TfEventsWriter& operator=(const TfEventsWriter&) = delete;

  // One Event per scalar (as SummaryWriter.add_scalar), all with the same wall time and `step`.
  void add_scalars(int64_t step, const std::vector<TfScalar>& scalars);
  void add_scalar(int64_t step, std::string tag, float value) { add_scalars(step, {{std::move(tag), value}}); }

  const std::filesystem::path& path() const { return path_; }

 private:
  void write_records(const std::string& bytes);
  double now() const;

  std::filesystem::path path_;
  Options options_;
  int fd_ = -1;
};

}  // namespace prefer::io
