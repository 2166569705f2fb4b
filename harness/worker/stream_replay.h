// Streamed replay: a trace too long to hold decoded (32 bytes per event) is decoded in chunks
// between timed stretches, so the worker's own memory stays bounded whatever the trace's
// length. Layer: harness/worker. Serial only: one thread follows the recorded order, pausing
// the clock while it decodes the next chunk (a threaded replay would need every thread's
// events at once). Cost outside the timed region: decoding (~30-50 M events/s) and one hash
// lookup per event to map object ids to reusable slots.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/mmap_allocator.h"
#include "workloads/live_objects.h"
#include "workloads/trace_stream.h"

namespace allocmark {

// Rewrites object ids (single-use, up to one per event) to slots reused after each free, so
// the replay's object table holds the live objects only (churn: 16 KiB instead of 19 MiB, which
// made the harness's own cache misses most of a serial replay's time); fills each free's size.
// A freed slot is reused only by later allocations of the thread that freed it: in a threaded
// replay that thread's own order guarantees the free has run. Tracks the peak of live bytes
// along the recorded order, as TraceChecker does.
class SlotMapper {
 public:
  explicit SlotMapper(size_t expected_live) : live_(expected_live) {}
  // Event e, the next of thread t in recorded order. False with *why on an event the trace's
  // check would refuse (a streamed file that changed since it was checked).
  bool map(uint32_t t, Event& e, std::string* why);
  bool map(EventChunk& chunk, std::string* why);
  uint32_t slots() const { return next_slot_; }
  uint64_t peak_live_bytes() const { return peak_live_bytes_; }

 private:
  struct Live {
    uint32_t slot;
    uint64_t size;
  };
  bool begin(uint32_t t, Event& e, std::string* why);
  std::vector<MmapVector<uint32_t>> free_slots_;  // per freeing thread
  LiveObjects<Live, /*kTrackSeen=*/false> live_;  // no bit per id: 60 MiB per 5 * 10^8 ids
  uint32_t next_slot_ = 0;
  uint64_t live_bytes_ = 0, peak_live_bytes_ = 0;
};

// A trace file being replayed chunk by chunk.
class StreamedTrace {
 public:
  static constexpr size_t kChunkEvents = 1 << 20;  // 32 MiB of decoded events
  // Latency samples kept per thread at most: the sampling period is stretched to fit (8 MiB,
  // reserved and touched before the baseline like every other harness table).
  static constexpr uint64_t kMaxLatencySamples = 1 << 20;

  // Opens the file; `live_objects` sizes the slot table (the parent's check knows the peak).
  bool open(const std::string& path, uint64_t live_objects, TraceError* error);
  const TraceFileInfo& info() const { return reader_.info(); }
  // The model the Replayer is built on: the threads, no events, `object_count` slots.
  Trace& shell() { return shell_; }
  // Decodes the first chunk: before the baseline RSS, so zstd's window and the chunk buffer
  // are the harness's, not the heap's.
  bool prime() { return advance(); }
  // Replays every chunk; returns the timed nanoseconds (decoding excluded). A decode problem
  // ends it early with error() set.
  template <class R>
  uint64_t run(R& replayer) {
    uint64_t wall = 0;
    while (!chunk_.events.empty()) {
      replayer.ensure_slots(mapper_.slots());
      bool ok = true;
      wall += replayer.run_chunk(chunk_.events.data(), chunk_.runs, &ok);
      if (!ok || !advance()) break;
    }
    return wall;
  }
  const std::string& error() const { return error_; }
  uint64_t peak_live_bytes() const { return mapper_.peak_live_bytes(); }

 private:
  bool advance();

  TraceReader reader_;
  Trace shell_;
  EventChunk chunk_;
  SlotMapper mapper_{1024};
  std::string error_;
};

// Whether the worker should stream: `mode` "always"/"never", or "auto", which streams when the
// decoded trace and its object table would exceed `limit_bytes` (and the replay is serial or
// the trace has one thread).
// Maps a whole in-memory trace's object ids to reusable slots (walking its recorded order) and
// sets its object_count to the slots used. Before timing; ~20 ns per event.
bool map_trace_to_slots(Trace& trace, std::string* why);

bool should_stream(const std::string& mode, const TraceFileInfo& info, bool serial,
                   uint64_t limit_bytes);

}  // namespace allocmark
