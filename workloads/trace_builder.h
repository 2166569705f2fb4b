// TraceBuilder: the one way generators and importers make a Trace. Events are given in one
// global order; the builder splits them into per-thread streams, records the schedule, and adds a
// dependency wherever an object crosses threads. Or, given a TraceWriter, it streams each event
// to the file as it comes and keeps only the live objects (traces of any length).
// Layer: workloads. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "workloads/live_objects.h"
#include "workloads/trace.h"
#include "workloads/trace_stream.h"

namespace allocmark {

class TraceBuilder {
 public:
  TraceBuilder() = default;
  // Streams events to `writer` (open) instead of keeping them; finish() is not called then.
  explicit TraceBuilder(TraceWriter* writer) : writer_(writer) {}

  // Dense thread index for a caller key (an OS tid, a generator's thread number); threads are
  // numbered in order of first appearance.
  uint32_t thread(uint64_t key);
  // A fresh object id; ids are never reused.
  uint32_t new_object() noexcept { return next_object_++; }

  // What the builder knows of a live object: its size and its last event (for dependencies).
  struct ObjectLife {
    uint64_t size = 0;
    uint32_t last_thread = 0;  // thread that last allocated/resized/touched it
    uint32_t last_index = 0;   // index of that event in its stream
  };

  // Each call appends one event in global order. They return false, with error() set, on misuse
  // (allocating a live object, freeing a dead one, a bad alignment): importers report that with
  // their own line number. On false nothing was appended.
  //
  // `held`: the caller keeps the object's state instead of the builder's live table (the
  // recorder's converter keeps it beside the address in its pointer map, so a free costs one
  // lookup in a table larger than the cache, not two dependent ones: a third of the
  // conversion's CPU). The caller then vouches for what the table would check: an allocated id
  // comes from new_object() and was never live, a resized or freed object is live and *held is
  // the state its last call left. The events, dependencies and peak are the same; phase_end(),
  // is_live() and live_size() do not see held objects.
  bool malloc(uint32_t thread, uint32_t obj, uint64_t size, uint16_t flags = 0,
              ObjectLife* held = nullptr);
  bool calloc(uint32_t thread, uint32_t obj, uint64_t nmemb, uint64_t elem_size,
              ObjectLife* held = nullptr);
  bool aligned_alloc(uint32_t thread, uint32_t obj, uint64_t align, uint64_t size,
                     uint16_t flags = 0,  // flags: kFlagCxx (aligned operator new)
                     ObjectLife* held = nullptr);
  bool realloc(uint32_t thread, uint32_t obj, uint64_t new_size,
               ObjectLife* held = nullptr);  // obj live
  bool realloc_from_null(uint32_t thread, uint32_t obj, uint64_t size, ObjectLife* held = nullptr);
  bool free(uint32_t thread, uint32_t obj, uint16_t flags = 0, ObjectLife* held = nullptr);
  bool access(uint32_t thread, uint32_t obj, uint64_t offset, uint64_t length);
  // Frees (flagged kFlagPhaseFree) every object `thread` allocated since its last phase end that
  // is still live, then records the phase end.
  bool phase_end(uint32_t thread);
  bool thread_exit(uint32_t thread);

  bool is_live(uint32_t obj) const noexcept { return objects_.find(obj) != nullptr; }
  // A hint that obj's state is needed soon (see LiveObjects::prefetch).
  [[gnu::always_inline]] void prefetch(uint32_t obj) const noexcept { objects_.prefetch(obj); }
  uint64_t live_size(uint32_t obj) const noexcept {
    const ObjectState* o = objects_.find(obj);
    return o ? o->size : 0;
  }
  uint32_t thread_count() const noexcept { return static_cast<uint32_t>(counts_.size()); }
  uint32_t object_count() const noexcept { return next_object_; }
  // Peak of the live bytes along the order given (what TraceChecker computes on the result).
  uint64_t peak_live_bytes() const noexcept { return peak_live_bytes_; }
  const std::string& error() const noexcept { return error_; }
  uint64_t events() const noexcept { return events_; }

  void set_metadata_json(std::string json) { metadata_json_ = std::move(json); }
  // Hands over the trace (not when streaming); the builder is left empty.
  Trace finish();

 private:
  // A live object in the builder's table (freed ones are only a bit in objects_: ids are
  // single-use).
  struct ObjectState : ObjectLife {
    uint32_t phase_owner = UINT32_MAX;
  };

  void append(uint32_t thread, Event e, ObjectLife* o);
  void add_live(uint64_t bytes);
  bool check_thread(uint32_t thread);
  bool fail(std::string message);
  ObjectLife* begin_life(uint32_t thread, uint32_t obj, uint64_t size, const char* what,
                         ObjectLife* held);
  ObjectLife* require_live(uint32_t obj, const char* what, ObjectLife* held);

  TraceWriter* writer_ = nullptr;
  std::vector<ThreadStream> threads_;  // in memory; empty streams when writing
  std::vector<uint32_t> counts_;       // events per thread so far
  std::unordered_map<uint64_t, uint32_t> thread_keys_;
  std::vector<uint8_t> exited_;
  LiveObjects<ObjectState> objects_;
  MmapVector<ScheduleRun> schedule_;
  std::string metadata_json_ = "{}";
  std::string error_;
  uint64_t events_ = 0;
  uint32_t next_object_ = 0;
  uint64_t live_bytes_ = 0, peak_live_bytes_ = 0;
};

}  // namespace allocmark
