// A bounds-checked reader of FlatBuffers tables, enough for Arrow's IPC metadata (no generated code:
// fields are read by their index in the schema, as the Arrow format's Schema.fbs/Message.fbs number them).
//
// Layout (flatbuffers.dev "internals"): a buffer starts with a u32 offset to the root table; a table
// starts with an i32 giving its vtable at (table - value); the vtable is u16 [vtable bytes, table bytes,
// field 0 offset, field 1 offset, ...] with 0 meaning "absent, use the default". Strings and vectors
// are u32 length-prefixed; references to them (and to tables) are u32 offsets from where they are
// stored. Every read is checked against the buffer, so a hostile file gives an Error, never a crash.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "util/error.h"

namespace prefer::io {

class FlatTable {
 public:
  FlatTable() = default;
  // The root table of `buf` (which must outlive every table read from it).
  static FlatTable root(std::string_view buf, const ErrorContext& ctx) {
    FlatTable t;
    t.buf_ = buf;
    t.ctx_ = ctx;
    t.pos_ = t.follow(0);
    t.load_vtable();
    return t;
  }

  bool has(int field) const { return field_offset(field) != 0; }

  template <class T>
  T scalar(int field, T fallback) const {
    uint32_t off = field_offset(field);
    if (off == 0) return fallback;
    return read<T>(pos_ + off);
  }

  // A table or union value stored in `field`; absent gives an empty table (valid() false).
  FlatTable table(int field) const {
    uint32_t off = field_offset(field);
    if (off == 0) return {};
    return at(follow(pos_ + off));
  }

  std::string_view string(int field) const {
    uint32_t off = field_offset(field);
    if (off == 0) return {};
    size_t p = follow(pos_ + off);
    uint32_t n = read<uint32_t>(p);
    check(p + 4, n);
    return buf_.substr(p + 4, n);
  }

  // A vector in `field`: its element count and where its first element starts.
  struct Vector {
    size_t start = 0;
    uint32_t size = 0;
  };
  Vector vector(int field, size_t element_bytes) const {
    uint32_t off = field_offset(field);
    if (off == 0) return {};
    size_t p = follow(pos_ + off);
    uint32_t n = read<uint32_t>(p);
    check(p + 4, static_cast<uint64_t>(n) * element_bytes);
    return {p + 4, n};
  }
  // Element i of a vector of tables.
  FlatTable table_at(const Vector& v, uint32_t i) const { return at(follow(v.start + 4u * i)); }
  // Field `byte_offset` of struct element i (structs are stored inline, `stride` bytes each).
  template <class T>
  T struct_at(const Vector& v, uint32_t i, size_t stride, size_t byte_offset) const {
    return read<T>(v.start + stride * i + byte_offset);
  }

  bool valid() const { return !buf_.empty(); }

 private:
  FlatTable at(size_t pos) const {
    FlatTable t;
    t.buf_ = buf_;
    t.ctx_ = ctx_;
    t.pos_ = pos;
    t.load_vtable();
    return t;
  }

  void check(size_t pos, uint64_t n) const {
    if (pos > buf_.size() || n > buf_.size() - pos)
      throw Error("the metadata is malformed (a FlatBuffers reference points outside it)", ctx_);
  }
  template <class T>
  T read(size_t pos) const {
    check(pos, sizeof(T));
    T v;
    std::memcpy(&v, buf_.data() + pos, sizeof(T));
    return v;
  }
  // The position a u32 offset stored at `pos` refers to.
  size_t follow(size_t pos) const {
    size_t target = pos + read<uint32_t>(pos);
    check(target, 4);
    return target;
  }
  void load_vtable() {
    int64_t vt = static_cast<int64_t>(pos_) - read<int32_t>(pos_);
    if (vt < 0) throw Error("the metadata is malformed (a FlatBuffers vtable lies before the buffer)", ctx_);
    vtable_ = static_cast<size_t>(vt);
    vtable_bytes_ = read<uint16_t>(vtable_);
    table_bytes_ = read<uint16_t>(vtable_ + 2);
    check(vtable_, vtable_bytes_);
    check(pos_, table_bytes_);
  }
  uint32_t field_offset(int field) const {
    if (buf_.empty()) return 0;
    size_t entry = 4 + 2 * static_cast<size_t>(field);
    if (entry + 2 > vtable_bytes_) return 0;
    uint16_t off = read<uint16_t>(vtable_ + entry);
    if (off != 0 && off >= table_bytes_) throw Error("the metadata is malformed (a FlatBuffers field lies outside its table)", ctx_);
    return off;
  }

  std::string_view buf_;
  ErrorContext ctx_;
  size_t pos_ = 0;
  size_t vtable_ = 0;
  uint16_t vtable_bytes_ = 0;
  uint16_t table_bytes_ = 0;
};

}  // namespace prefer::io
