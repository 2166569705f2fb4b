// Whole-trace reading and writing: format v2 through the streaming writer and reader
// (trace_stream.h), and the decoder of format v1 (a fixed header, JSON metadata and one zstd
// frame of varint-coded per-thread sections), which old files still use. Layer: workloads. See
// workloads/FORMAT.md for the layout.
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
#include "workloads/trace_codec.h"
#include "workloads/trace_order.h"
#include "workloads/trace_stream.h"
#include "workloads/varint.h"

namespace allocmark {
namespace {

using codec::Header;
using codec::kHeaderBytes;
using codec::kHeaderFlagSchedule;

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
  MmapVector<uint64_t> sizes(h.thread_count);  // v1 dependencies may point at any event
  for (uint32_t t = 0; t < h.thread_count; ++t) sizes[t] = trace->threads[t].events.size();
  for (uint32_t t = 0; t < h.thread_count; ++t) {
    Event* out = trace->threads[t].events.data();  // written in place: fresh mmap memory
    const size_t count = trace->threads[t].events.size();
    codec::ThreadState state;
    const codec::Limits limits{h.object_count, h.thread_count, t, sizes.data()};
    for (size_t i = 0; i < count; ++i) {
      if (const char* why = codec::decode_event(r, state, limits, out + i))
        return bad("thread " + std::to_string(t) + " event " + std::to_string(i), why);
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
  TraceWriter writer;
  if (!writer.open(path, trace.metadata_json, level, error)) return false;
  writer.declare(static_cast<uint32_t>(trace.threads.size()), trace.object_count);
  std::string order_error;
  if (!walk_in_order(
          trace,
          [&](uint32_t t, uint32_t i) {
            writer.add(t, trace.threads[t].events[i]);
            return true;
          },
          &order_error))
    return fail(error, path, 0, "file", "cannot order the events: " + order_error);
  return writer.finish(error);
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

namespace codec {

bool check_header(const Header& h, uint64_t file_size, std::string* why, uint64_t* offset) {
  auto bad = [&](uint64_t at, std::string reason) {
    *offset = at;
    *why = std::move(reason);
    return false;
  };
  if (std::memcmp(h.magic, kTraceMagic, sizeof h.magic) != 0)
    return bad(0, "not an allocmark trace (bad magic; convert it first)");
  if (h.version != 1 && h.version != kTraceFormatVersion)
    return bad(8, "format version " + std::to_string(h.version) + ", this build reads 1 and " +
                      std::to_string(kTraceFormatVersion));
  if (h.header_bytes != kHeaderBytes)
    return bad(12, "header size " + std::to_string(h.header_bytes));
  if (h.flags & ~kHeaderFlagSchedule) return bad(20, "unknown header flags");
  if (h.metadata_bytes > kMaxMetadataBytes) return bad(28, "metadata larger than 1 MiB");
  if (h.object_count > h.event_count) return bad(24, "more objects than events");
  if (h.thread_count == 0 && h.event_count != 0) return bad(16, "events but no threads");
  if (h.version == 1 && h.thread_count > h.payload_raw_bytes)
    return bad(16, "more threads than payload bytes");
  // Readers keep a few words per thread: a header claiming 2^28 threads must not cost gigabytes
  // before the payload proves it (found by fuzz_trace_reader). Threads beyond the event count
  // are declared but empty (an imported "threads 4" with no events): up to 2^16 of them.
  if (h.version != 1 && h.thread_count > std::max<uint64_t>(h.event_count, 1u << 16))
    return bad(16, "more threads than events");
  const uint64_t body = static_cast<uint64_t>(h.metadata_bytes) + h.payload_zstd_bytes;
  if (h.payload_zstd_bytes > file_size || kHeaderBytes + body != file_size)
    return bad(file_size, "file is " + std::to_string(file_size) + " bytes, header says " +
                              std::to_string(kHeaderBytes + body) + " (truncated or padded)");
  if (h.event_count > h.payload_raw_bytes) return bad(32, "more events than payload bytes");
  return true;
}

bool file_checksum(int fd, uint64_t offset, uint64_t length, uint64_t* out) {
  XXH64_state_t* st = XXH64_createState();
  XXH64_reset(st, 0);
  MmapVector<char> block(1 << 20);
  bool ok = true;
  while (length > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(block.size(), length));
    const ssize_t got = pread(fd, block.data(), want, static_cast<off_t>(offset));
    if (got <= 0) {
      ok = false;
      break;
    }
    XXH64_update(st, block.data(), static_cast<size_t>(got));
    offset += static_cast<uint64_t>(got);
    length -= static_cast<uint64_t>(got);
  }
  *out = XXH64_digest(st);
  XXH64_freeState(st);
  return ok;
}

}  // namespace codec

namespace {

// A v2 file into memory: chunks appended to each thread's stream, runs kept as the schedule.
bool decode_v2(const std::string& path, Trace* trace, TraceError* error) {
  TraceReader reader;
  if (!reader.open(path, error)) return false;
  const TraceFileInfo& info = reader.info();
  trace->threads.clear();
  trace->threads.resize(info.threads);
  trace->schedule.clear();
  trace->object_count = info.objects;
  trace->metadata_json = info.metadata_json;
  if (info.threads == 1) trace->threads[0].events.reserve(info.events);  // no regrowth copies
  EventChunk chunk;
  for (;;) {
    if (!reader.next(&chunk, 1 << 20, error)) return false;
    if (chunk.events.empty()) return true;
    const Event* e = chunk.events.data();
    for (const ScheduleRun& run : chunk.runs) {
      auto& events = trace->threads[run.thread].events;
      const size_t at = events.size();
      events.resize(at + run.count);
      std::memcpy(events.data() + at, e, run.count * sizeof(Event));
      e += run.count;
      if (!trace->schedule.empty() && trace->schedule.back().thread == run.thread)
        trace->schedule.back().count += run.count;
      else
        trace->schedule.push_back(run);
    }
  }
}

}  // namespace

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
  std::string why;
  uint64_t at = 0;
  if (!codec::check_header(h, file_size, &why, &at)) return fail(error, path, at, "file", why);
  if (h.version != 1) {
    unmap.reset();
    return decode_v2(path, trace, error);
  }
  const uint64_t body = static_cast<uint64_t>(h.metadata_bytes) + h.payload_zstd_bytes;
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
