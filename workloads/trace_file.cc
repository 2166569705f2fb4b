// Encoder and decoder of trace format v1: a fixed header, JSON metadata and one zstd frame of
// varint-coded per-thread events. Layer: workloads. See workloads/FORMAT.md for the layout.
#include "workloads/trace_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>

#include "base/atomic_file.h"
#include "workloads/varint.h"

namespace allocmark {
namespace {

constexpr uint32_t kHeaderBytes = 64;
constexpr uint32_t kHeaderFlagSchedule = 1;
// Tag byte of an encoded event.
constexpr uint8_t kTagOpMask = 0x07;
constexpr uint8_t kTagDep = 0x08;
constexpr uint8_t kTagFlags = 0x10;
constexpr uint8_t kTagAlign = 0x20;
constexpr uint8_t kTagReserved = 0xc0;
// Metadata is provenance text; anything larger is not a trace we wrote.
constexpr uint64_t kMaxMetadataBytes = 1 << 20;

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

bool has_object(Op op) { return op != Op::kPhaseEnd && op != Op::kThreadExit; }
bool has_size(Op op) { return has_object(op) && op != Op::kFree; }

void encode_thread(const ThreadStream& stream, std::string& out) {
  uint32_t prev_obj = 0;
  uint32_t prev_dep_index = 0;
  for (const Event& e : stream.events) {
    const uint16_t flags = e.flags & ~kFlagHasDep;
    uint8_t tag = static_cast<uint8_t>(e.op);
    if (e.flags & kFlagHasDep) tag |= kTagDep;
    if (flags) tag |= kTagFlags;
    if (e.align_log2) tag |= kTagAlign;
    out.push_back(static_cast<char>(tag));
    if (flags) out.push_back(static_cast<char>(flags));
    if (e.align_log2) out.push_back(static_cast<char>(e.align_log2));
    if (has_object(e.op)) {
      put_varint(out, zigzag(static_cast<int64_t>(e.obj) - prev_obj));
      prev_obj = e.obj;
    }
    if (has_size(e.op)) put_varint(out, e.size);
    if (e.op == Op::kCalloc || e.op == Op::kAccess) put_varint(out, e.aux);
    if (e.flags & kFlagHasDep) {
      put_varint(out, e.dep_thread);
      put_varint(out, zigzag(static_cast<int64_t>(e.dep_index) - prev_dep_index));
      prev_dep_index = e.dep_index;
    }
  }
}

struct FileCloser {
  void operator()(int* fd) const {
    if (*fd >= 0) close(*fd);
    delete fd;
  }
};

bool fail(TraceError* error, const std::string& path, uint64_t offset, std::string where,
          std::string reason) {
  if (error) *error = TraceError{path, offset, std::move(where), std::move(reason)};
  return false;
}

// Streams the zstd frame into an mmap-backed buffer that grows as data arrives, so a header that
// lies about the raw size cannot make us allocate a nonsense amount up front.
bool decompress(const uint8_t* src, size_t src_size, uint64_t expected, MmapVector<uint8_t>* out,
                std::string* reason) {
  // A frame that states its content size (ours always do: ZSTD_compress2 writes it) must agree
  // with the header before anything is mapped, so a header that lies costs one comparison, not a
  // 64 MiB buffer (found by fuzz_trace_reader: 88 % of its time went to such buffers). Frames
  // without the field, or skippable ones (another magic), are left to the stream checks below.
  uint32_t magic = 0;
  if (src_size >= 4) std::memcpy(&magic, src, 4);
  if (magic == ZSTD_MAGICNUMBER) {
    const unsigned long long stated = ZSTD_getFrameContentSize(src, src_size);
    if (stated != ZSTD_CONTENTSIZE_UNKNOWN && stated != ZSTD_CONTENTSIZE_ERROR &&
        stated != expected)
      return *reason = "zstd frame holds " + std::to_string(stated) +
                       " payload bytes, the header says " + std::to_string(expected),
             false;
  }
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  ZSTD_inBuffer in{src, src_size, 0};
  out->resize(std::min<uint64_t>(expected, 64u << 20));
  size_t produced = 0;
  for (;;) {
    if (produced == out->size()) {
      if (produced >= expected) {
        // Exactly full: the frame must end here.
        uint8_t probe;
        ZSTD_outBuffer o{&probe, 1, 0};
        size_t r = ZSTD_decompressStream(ctx.get(), &o, &in);
        if (ZSTD_isError(r)) return *reason = ZSTD_getErrorName(r), false;
        if (o.pos) return *reason = "payload is larger than the header says", false;
        if (r != 0) return *reason = "compressed payload is truncated", false;
        break;
      }
      out->resize(std::min<uint64_t>(expected, out->size() * 2));
    }
    ZSTD_outBuffer o{out->data(), out->size(), produced};
    size_t r = ZSTD_decompressStream(ctx.get(), &o, &in);
    if (ZSTD_isError(r)) return *reason = std::string("zstd: ") + ZSTD_getErrorName(r), false;
    produced = o.pos;
    if (r == 0) {
      if (produced != expected) return *reason = "payload is smaller than the header says", false;
      break;
    }
    if (in.pos == in.size && o.pos < o.size) {
      return *reason = "compressed payload is truncated", false;
    }
  }
  if (in.pos != in.size) return *reason = "data after the end of the zstd frame", false;
  return true;
}

bool decode_payload(const MmapVector<uint8_t>& raw, const Header& h, Trace* trace,
                    const std::string& path, TraceError* error) {
  ByteReader r{raw.data(), raw.size()};
  auto bad = [&](const std::string& where, const std::string& why) {
    return fail(error, path, r.pos, where, why);
  };
  trace->threads.clear();
  trace->threads.resize(h.thread_count);
  uint64_t total = 0;
  for (uint32_t t = 0; t < h.thread_count; ++t) {
    uint64_t n;
    if (!r.get_varint(&n)) return bad("payload", "truncated thread event count");
    // Every event takes at least one byte, so a count larger than the payload is a lie.
    if (n > raw.size() || total + n > h.event_count)
      return bad("payload", "thread " + std::to_string(t) + " claims " + std::to_string(n) +
                                " events, more than the header's total");
    trace->threads[t].events.resize(n);
    total += n;
  }
  if (total != h.event_count)
    return bad("payload", "thread event counts add up to " + std::to_string(total) +
                              ", header says " + std::to_string(h.event_count));
  for (uint32_t t = 0; t < h.thread_count; ++t) {
    uint32_t prev_obj = 0;
    uint32_t prev_dep = 0;
    Event* out = trace->threads[t].events.data();
    const size_t count = trace->threads[t].events.size();
    for (size_t i = 0; i < count; ++i) {
      auto where = [&] { return "thread " + std::to_string(t) + " event " + std::to_string(i); };
      Event& e = out[i];  // written in place: fresh mmap memory, every field set below
      e.flags = 0;
      e.align_log2 = 0;
      e.aux = 0;
      e.size = 0;
      e.dep_thread = 0;
      e.dep_index = 0;
      e.reserved = 0;
      uint8_t tag, byte;
      if (!r.get_byte(&tag)) return bad(where(), "truncated event");
      if (tag & kTagReserved) return bad(where(), "reserved tag bits set (not a v1 event)");
      e.op = static_cast<Op>(tag & kTagOpMask);
      if (tag & kTagFlags) {
        if (!r.get_byte(&byte)) return bad(where(), "truncated flags");
        if (byte & ~kFlagsKnown || byte & kFlagHasDep) return bad(where(), "unknown flag bits");
        e.flags = byte;
      }
      if (tag & kTagAlign) {
        if (!r.get_byte(&byte) || byte == 0 || byte > 40)
          return bad(where(), "alignment exponent missing or above 2^40");
        e.align_log2 = byte;
      }
      uint64_t v;
      if (has_object(e.op)) {
        if (!r.get_varint(&v)) return bad(where(), "truncated object id");
        const int64_t obj = static_cast<int64_t>(prev_obj) + unzigzag(v);
        if (obj < 0 || obj >= h.object_count)
          return bad(where(), "object id " + std::to_string(obj) + " outside [0, " +
                                  std::to_string(h.object_count) + ")");
        e.obj = prev_obj = static_cast<uint32_t>(obj);
      } else {
        e.obj = kNoObject;
      }
      if (has_size(e.op) && !r.get_varint(&e.size)) return bad(where(), "truncated size");
      if (e.op == Op::kCalloc || e.op == Op::kAccess) {
        if (!r.get_varint(&v) || v > UINT32_MAX) return bad(where(), "bad calloc/access field");
        e.aux = static_cast<uint32_t>(v);
      }
      if (tag & kTagDep) {
        e.flags |= kFlagHasDep;
        if (!r.get_varint(&v) || v >= h.thread_count || v == t)
          return bad(where(), "dependency names a bad thread");
        e.dep_thread = static_cast<uint32_t>(v);
        if (!r.get_varint(&v)) return bad(where(), "truncated dependency");
        const int64_t idx = static_cast<int64_t>(prev_dep) + unzigzag(v);
        if (idx < 0 || idx >= static_cast<int64_t>(trace->threads[e.dep_thread].events.size()))
          return bad(where(), "dependency index outside thread " + std::to_string(e.dep_thread));
        e.dep_index = prev_dep = static_cast<uint32_t>(idx);
      }
    }
  }
  trace->schedule.clear();
  if (h.flags & kHeaderFlagSchedule) {
    uint64_t runs;
    if (!r.get_varint(&runs) || runs > raw.size()) return bad("schedule", "bad run count");
    trace->schedule.resize(runs);
    for (auto& run : trace->schedule) {
      uint64_t t, n;
      if (!r.get_varint(&t) || !r.get_varint(&n) || t >= h.thread_count || n == 0 ||
          n > h.event_count)
        return bad("schedule", "bad schedule run");
      run = {static_cast<uint32_t>(t), static_cast<uint32_t>(n)};
    }
  }
  if (r.pos != r.size) return bad("payload", "unexpected bytes after the last event");
  trace->object_count = h.object_count;
  return true;
}

}  // namespace

std::string TraceError::message() const {
  std::string m = path + ": ";
  if (!where.empty() && where != "file") {
    m += where + " (payload offset " + std::to_string(offset) + "): ";
  } else {
    m += "offset " + std::to_string(offset) + ": ";
  }
  m += reason;
  return m;
}

bool write_trace(const Trace& trace, const std::string& path, TraceError* error, int level) {
  std::string raw;
  raw.reserve(trace.event_count() * 4 + 64);
  for (const auto& t : trace.threads) put_varint(raw, t.events.size());
  for (const auto& t : trace.threads) encode_thread(t, raw);
  if (!trace.schedule.empty()) {
    put_varint(raw, trace.schedule.size());
    for (const auto& run : trace.schedule) {
      put_varint(raw, run.thread);
      put_varint(raw, run.count);
    }
  }
  std::string packed(ZSTD_compressBound(raw.size()), '\0');
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_enableLongDistanceMatching, 1);
  const size_t packed_size =
      ZSTD_compress2(cctx.get(), packed.data(), packed.size(), raw.data(), raw.size());
  if (ZSTD_isError(packed_size))
    return fail(error, path, 0, "file", std::string("zstd: ") + ZSTD_getErrorName(packed_size));
  packed.resize(packed_size);

  Header h{};
  std::memcpy(h.magic, kTraceMagic, sizeof h.magic);
  h.version = kTraceFormatVersion;
  h.header_bytes = kHeaderBytes;
  h.thread_count = static_cast<uint32_t>(trace.threads.size());
  h.flags = trace.schedule.empty() ? 0 : kHeaderFlagSchedule;
  h.object_count = trace.object_count;
  h.metadata_bytes = static_cast<uint32_t>(trace.metadata_json.size());
  h.event_count = trace.event_count();
  h.payload_raw_bytes = raw.size();
  h.payload_zstd_bytes = packed.size();
  XXH64_state_t* st = XXH64_createState();
  XXH64_reset(st, 0);
  XXH64_update(st, trace.metadata_json.data(), trace.metadata_json.size());
  XXH64_update(st, packed.data(), packed.size());
  h.checksum = XXH64_digest(st);
  XXH64_freeState(st);

  // Temporary name, fsync, rename: a reader never sees half a trace. Mode 0666 less the umask,
  // as fopen gives.
  FileWriteError e;
  if (write_file_atomically(path,
                            {std::string_view(reinterpret_cast<const char*>(&h), sizeof h),
                             trace.metadata_json, packed},
                            &e, 0666))
    return true;
  return fail(
      error, path, 0, "file",
      std::string(std::string_view(e.step) == "create" ? "cannot create: " : "write failed: ") +
          strerror(e.code));
}

bool read_trace(const std::string& path, Trace* trace, TraceError* error,
                TraceSummary* summary_out) {
  if (!decode_trace(path, trace, error)) return false;
  TraceSummary summary;
  if (!check_trace(*trace, summary_out ? summary_out : &summary, error)) {
    error->path = path;
    return false;
  }
  return true;
}

bool decode_trace(const std::string& path, Trace* trace, TraceError* error) {
  std::unique_ptr<int, FileCloser> fd(new int(open(path.c_str(), O_RDONLY | O_CLOEXEC)));
  if (*fd < 0) return fail(error, path, 0, "file", std::string("cannot open: ") + strerror(errno));
  struct stat st;
  if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode))
    return fail(error, path, 0, "file", "not a regular file");
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < kHeaderBytes)
    return fail(error, path, file_size, "file",
                "file is " + std::to_string(file_size) + " bytes, shorter than the 64-byte header");
  void* map = mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, *fd, 0);
  if (map == MAP_FAILED) return fail(error, path, 0, "file", "cannot mmap");
  std::unique_ptr<void, std::function<void(void*)>> unmap(
      map, [file_size](void* p) { munmap(p, file_size); });
  const auto* bytes = static_cast<const uint8_t*>(map);
  Header h;
  std::memcpy(&h, bytes, sizeof h);
  if (std::memcmp(h.magic, kTraceMagic, sizeof h.magic) != 0)
    return fail(error, path, 0, "file", "not an allocmark trace (bad magic; convert it first)");
  if (h.version != kTraceFormatVersion)
    return fail(error, path, 8, "file",
                "format version " + std::to_string(h.version) + ", this build reads version 1");
  if (h.header_bytes != kHeaderBytes)
    return fail(error, path, 12, "file", "header size " + std::to_string(h.header_bytes));
  if (h.flags & ~kHeaderFlagSchedule) return fail(error, path, 20, "file", "unknown header flags");
  if (h.metadata_bytes > kMaxMetadataBytes)
    return fail(error, path, 28, "file", "metadata larger than 1 MiB");
  if (h.object_count > h.event_count)
    return fail(error, path, 24, "file", "more objects than events");
  if (h.thread_count == 0 && h.event_count != 0)
    return fail(error, path, 16, "file", "events but no threads");
  if (h.thread_count > h.payload_raw_bytes)
    return fail(error, path, 16, "file", "more threads than payload bytes");
  const uint64_t body = static_cast<uint64_t>(h.metadata_bytes) + h.payload_zstd_bytes;
  if (h.payload_zstd_bytes > file_size || kHeaderBytes + body != file_size)
    return fail(error, path, file_size, "file",
                "file is " + std::to_string(file_size) + " bytes, header says " +
                    std::to_string(kHeaderBytes + body) + " (truncated or padded)");
  if (h.event_count > h.payload_raw_bytes)
    return fail(error, path, 32, "file", "more events than payload bytes");
  if (XXH64(bytes + kHeaderBytes, body, 0) != h.checksum)
    return fail(error, path, kHeaderBytes, "file", "checksum mismatch (file is corrupt)");
  trace->metadata_json.assign(reinterpret_cast<const char*>(bytes) + kHeaderBytes,
                              h.metadata_bytes);
  MmapVector<uint8_t> raw;
  std::string reason;
  const uint64_t payload_offset = kHeaderBytes + h.metadata_bytes;
  if (!decompress(bytes + payload_offset, h.payload_zstd_bytes, h.payload_raw_bytes, &raw, &reason))
    return fail(error, path, payload_offset, "file", reason);
  return decode_payload(raw, h, trace, path, error);
}

}  // namespace allocmark
