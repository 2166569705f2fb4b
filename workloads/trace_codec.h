// The varint coding of one event, shared by format v1 (per-thread sections) and v2 (runs in
// recorded order): workloads/FORMAT.md, "Each event". Layer: workloads (private to the trace
// reader and writers). Decoding trusts nothing: every field is range-checked.
#pragma once

#include <cstdint>
#include <string>

#include "workloads/trace.h"
#include "workloads/varint.h"

namespace allocmark::codec {

inline constexpr uint32_t kHeaderBytes = 64;
inline constexpr uint32_t kHeaderFlagSchedule = 1;  // v1: a schedule follows; v2: always set
// Metadata is provenance text; anything larger is not a trace we wrote.
inline constexpr uint64_t kMaxMetadataBytes = 1 << 20;

// The fixed header of both versions (FORMAT.md, "Layout"), little-endian.
struct Header {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  uint32_t thread_count;
  uint32_t flags;
  uint32_t object_count;
  uint32_t metadata_bytes;
  uint64_t event_count;
  uint64_t payload_raw_bytes;
  uint64_t payload_zstd_bytes;
  uint64_t checksum;  // XXH64 (seed 0) of metadata + compressed payload
};
static_assert(sizeof(Header) == kHeaderBytes, "header layout is part of the format");

// Tag byte of an encoded event.
inline constexpr uint8_t kTagOpMask = 0x07;
inline constexpr uint8_t kTagDep = 0x08;
inline constexpr uint8_t kTagFlags = 0x10;
inline constexpr uint8_t kTagAlign = 0x20;
inline constexpr uint8_t kTagReserved = 0xc0;
// Longest encoding of one event: tag, flags, alignment, then object, size, aux and the two
// dependency fields as varints of at most 10 bytes.
inline constexpr size_t kMaxEventBytes = 3 + 5 * 10;

inline bool has_object(Op op) { return op != Op::kPhaseEnd && op != Op::kThreadExit; }
inline bool has_size(Op op) { return has_object(op) && op != Op::kFree; }

// Per-thread delta state: ids and dependency indexes are coded against the thread's previous.
struct ThreadState {
  uint32_t prev_obj = 0;
  uint32_t prev_dep = 0;
};

// Writes one event at p (kMaxEventBytes of room) and returns the end. Cost: ~20 instructions
// for a churn event; std::string appends made it 140.
[[gnu::always_inline]] inline uint8_t* encode_event(const Event& e, ThreadState& s, uint8_t* p) {
  const uint16_t flags = e.flags & ~kFlagHasDep;
  uint8_t tag = static_cast<uint8_t>(e.op);
  if (e.flags & kFlagHasDep) tag |= kTagDep;
  if (flags) tag |= kTagFlags;
  if (e.align_log2) tag |= kTagAlign;
  *p++ = tag;
  if (flags) *p++ = static_cast<uint8_t>(flags);
  if (e.align_log2) *p++ = e.align_log2;
  if (has_object(e.op)) {
    p = put_varint(p, zigzag(static_cast<int64_t>(e.obj) - s.prev_obj));
    s.prev_obj = e.obj;
  }
  if (has_size(e.op)) p = put_varint(p, e.size);
  if (e.op == Op::kCalloc || e.op == Op::kAccess) p = put_varint(p, e.aux);
  if (e.flags & kFlagHasDep) {
    p = put_varint(p, e.dep_thread);
    p = put_varint(p, zigzag(static_cast<int64_t>(e.dep_index) - s.prev_dep));
    s.prev_dep = e.dep_index;
  }
  return p;
}

// What a decoded field may be: ids below `objects`, dependencies on threads below `threads`
// other than `self`, at indexes below dep_limit[thread] (v1: the thread's event count; v2: the
// events of that thread decoded so far, as a dependency points backwards in recorded order).
struct Limits {
  uint32_t objects;
  uint32_t threads;
  uint32_t self;
  const uint64_t* dep_limit;
};

// Decodes one event into *e (every field written). Returns nullptr, or why the bytes are bad.
[[gnu::always_inline]] inline const char* decode_event(ByteReader& r, ThreadState& s,
                                                       const Limits& lim, Event* e) {
  e->flags = 0;
  e->align_log2 = 0;
  e->aux = 0;
  e->size = 0;
  e->dep_thread = 0;
  e->dep_index = 0;
  e->reserved = 0;
  uint8_t tag, byte;
  if (!r.get_byte(&tag)) return "truncated event";
  if (tag & kTagReserved) return "reserved tag bits set (not an allocmark event)";
  e->op = static_cast<Op>(tag & kTagOpMask);
  if (tag & kTagFlags) {
    if (!r.get_byte(&byte)) return "truncated flags";
    if (byte & ~kFlagsKnown || byte & kFlagHasDep) return "unknown flag bits";
    e->flags = byte;
  }
  if (tag & kTagAlign) {
    if (!r.get_byte(&byte) || byte == 0 || byte > 40)
      return "alignment exponent missing or above 2^40";
    e->align_log2 = byte;
  }
  uint64_t v;
  if (has_object(e->op)) {
    if (!r.get_varint(&v)) return "truncated object id";
    const int64_t obj = static_cast<int64_t>(s.prev_obj) + unzigzag(v);
    if (obj < 0 || obj >= lim.objects) return "object id outside the header's object count";
    e->obj = s.prev_obj = static_cast<uint32_t>(obj);
  } else {
    e->obj = kNoObject;
  }
  if (has_size(e->op) && !r.get_varint(&e->size)) return "truncated size";
  if (e->op == Op::kCalloc || e->op == Op::kAccess) {
    if (!r.get_varint(&v) || v > UINT32_MAX) return "bad calloc/access field";
    e->aux = static_cast<uint32_t>(v);
  }
  if (tag & kTagDep) {
    e->flags |= kFlagHasDep;
    if (!r.get_varint(&v) || v >= lim.threads || v == lim.self)
      return "dependency names a bad thread";
    e->dep_thread = static_cast<uint32_t>(v);
    if (!r.get_varint(&v)) return "truncated dependency";
    const int64_t idx = static_cast<int64_t>(s.prev_dep) + unzigzag(v);
    if (idx < 0 || static_cast<uint64_t>(idx) >= lim.dep_limit[e->dep_thread])
      return "dependency index outside the events of its thread";
    e->dep_index = s.prev_dep = static_cast<uint32_t>(idx);
  }
  return nullptr;
}

}  // namespace allocmark::codec

namespace allocmark::codec {

// Checks a header against the file's size (magic, version 1 or 2, sizes that add up). `where`
// on failure: the byte offset of the bad field.
bool check_header(const Header& h, uint64_t file_size, std::string* why, uint64_t* offset);

// XXH64 of [offset, offset + length) of fd, read in 1 MiB blocks (no mapping: a mapped file's
// pages would count in the replaying process's RSS). False on a read error or a short file.
bool file_checksum(int fd, uint64_t offset, uint64_t length, uint64_t* out);

}  // namespace allocmark::codec
