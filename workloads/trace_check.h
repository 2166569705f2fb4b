// The semantic check of a trace, one event at a time in recorded order, so that a trace held in
// memory (check_trace) and one streamed from a file (check_trace_file) are checked by the same
// code. Layer: workloads. Memory: proportional to the live objects and the thread count, plus
// one bit per object id (workloads/live_objects.h).
#pragma once

#include <cstdint>
#include <string>

#include "base/mmap_allocator.h"
#include "workloads/live_objects.h"
#include "workloads/trace_file.h"

namespace allocmark {

class TraceChecker {
 public:
  // Zeroes *summary and fills it as events arrive.
  TraceChecker(uint32_t threads, uint32_t object_count, TraceSummary* summary);

  // Event `e`, the next of thread t. Checks it against everything before it in recorded order,
  // accounts it, and fills a free's size (formats do not store it). `may_block`: the caller
  // walks a dependency-respecting round robin (an unmet dependency is a cycle, not a misorder).
  bool step(uint32_t t, Event& e, bool may_block, TraceError* error);
  // After the last event: final live figures.
  void finish();

  uint64_t done(uint32_t t) const { return done_[t]; }

 private:
  struct Object {
    uint64_t size;
    uint64_t born;    // position in the recorded order of its allocation
    uint32_t thread;  // thread that allocated it
  };
  bool bad(TraceError* error, uint32_t t, uint64_t i, std::string why);
  bool valid_fields(uint32_t t, uint64_t i, const Event& e, bool may_block, TraceError* error);
  bool begin_life(uint32_t t, uint64_t i, const Event& e, TraceError* error);
  bool end_life(uint32_t t, uint64_t i, Event& e, TraceError* error);
  void add_allocated(uint64_t n);

  TraceSummary* summary_;
  uint32_t object_count_;
  MmapVector<uint64_t> done_;   // events done per thread
  MmapVector<uint8_t> exited_;  // threads whose thread_exit has run
  LiveObjects<Object> objects_;
  uint64_t live_bytes_ = 0;
  uint64_t live_objects_ = 0;
  uint64_t phase_ends_ = 0;
  bool phase_ends_empty_ = true;
};

}  // namespace allocmark
