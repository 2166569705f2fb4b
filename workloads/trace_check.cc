// Semantic check and summary of a trace, by walking it in its recorded order.
// Layer: workloads. Cost: one pass over the events with a 16-byte-per-object table (mmap'd).
#include <bit>

#include "workloads/trace_file.h"

namespace allocmark {
namespace {

struct ObjectSlot {
  uint64_t size;
  uint64_t born;    // position in the recorded order of its allocation
  uint32_t thread;  // thread that allocated it
  uint8_t state;    // 0 never allocated, 1 live, 2 freed
};

constexpr uint64_t kMaxRequest = 1ull << 47;  // larger than any address space we run on

class Checker {
 public:
  Checker(Trace& trace, TraceSummary* s, TraceError* e)
      : trace_(trace), summary_(s), error_(e), done_(trace.threads.size(), 0) {
    objects_.resize(trace.object_count);
  }

  bool run() {
    summary_->threads = static_cast<uint32_t>(trace_.threads.size());
    summary_->objects = trace_.object_count;
    if (!trace_.schedule.empty()) {
      MmapVector<uint64_t> scheduled(trace_.threads.size(), 0);
      for (const auto& run : trace_.schedule) scheduled[run.thread] += run.count;
      for (size_t t = 0; t < trace_.threads.size(); ++t)
        if (scheduled[t] != trace_.threads[t].events.size())
          return bad("schedule", "schedules " + std::to_string(scheduled[t]) +
                                     " events for thread " + std::to_string(t) + ", it has " +
                                     std::to_string(trace_.threads[t].events.size()));
      for (const auto& run : trace_.schedule)
        for (uint32_t i = 0; i < run.count; ++i)
          if (!step(run.thread, /*may_block=*/false)) return false;
    } else {
      // Round robin over the threads with events left: run each until it blocks on a
      // dependency; a round without progress is a cycle. Finished threads leave the list, so a
      // trace with many empty or short threads costs O(events + threads), not threads x rounds.
      MmapVector<uint32_t> active;
      for (uint32_t t = 0; t < trace_.threads.size(); ++t)
        if (!trace_.threads[t].events.empty()) active.push_back(t);
      bool progress = true;
      while (!active.empty() && progress) {
        progress = false;
        size_t kept = 0;
        for (uint32_t t : active) {
          while (done_[t] < trace_.threads[t].events.size() && !blocked(t)) {
            if (!step(t, true)) return false;
            progress = true;
          }
          if (done_[t] < trace_.threads[t].events.size()) active[kept++] = t;
        }
        active.resize(kept);
      }
      if (!active.empty()) return bad("dependencies", "threads wait on each other (cycle)");
    }
    summary_->final_live_bytes = live_bytes_;
    summary_->final_live_objects = live_objects_;
    return true;
  }

 private:
  bool bad(std::string where, std::string why) {
    *error_ = TraceError{"", 0, std::move(where), std::move(why)};
    return false;
  }
  bool blocked(uint32_t t) const {
    const Event& e = trace_.threads[t].events[done_[t]];
    return (e.flags & kFlagHasDep) && done_[e.dep_thread] <= e.dep_index;
  }
  void add_live(uint64_t n) {
    live_bytes_ += n;
    if (live_bytes_ > summary_->peak_live_bytes) summary_->peak_live_bytes = live_bytes_;
  }

  static std::string where(uint32_t t, uint64_t i) {
    return "thread " + std::to_string(t) + " event " + std::to_string(i);
  }

  // A request of n bytes: live bytes and their peak, the total and the size histogram.
  void add_allocated(uint64_t n) {
    add_live(n);
    summary_->total_allocated_bytes += n;
    ++summary_->size_histogram[std::bit_width(n)];
  }

  // The checks that need no object state: op, flags, alignment, dependency, ranges.
  bool valid_fields(uint32_t t, uint64_t i, const Event& e, bool may_block) {
    if (static_cast<uint8_t>(e.op) >= kOpCount) return bad(where(t, i), "unknown operation");
    if (e.flags & ~kFlagsKnown) return bad(where(t, i), "unknown flag bits");
    if (e.align_log2 > 40) return bad(where(t, i), "alignment above 2^40");
    if (e.flags & kFlagHasDep) {
      if (e.dep_thread >= done_.size() || e.dep_thread == t)
        return bad(where(t, i), "dependency names a bad thread");
      if (done_[e.dep_thread] <= e.dep_index)
        return bad(where(t, i),
                   may_block ? "dependency cannot be met" : "runs before the event it depends on");
      ++summary_->dependencies;
    }
    if (e.op != Op::kPhaseEnd && e.op != Op::kThreadExit && e.obj >= objects_.size())
      return bad(where(t, i), "object id " + std::to_string(e.obj) + " out of range");
    if (e.size > kMaxRequest && e.op != Op::kFree)
      return bad(where(t, i), "size " + std::to_string(e.size) + " is larger than 2^47");
    return true;
  }

  bool step(uint32_t t, bool may_block) {
    auto& events = trace_.threads[t].events;
    const uint64_t i = done_[t];
    Event& e = events[i];
    if (!valid_fields(t, i, e, may_block)) return false;
    ++summary_->by_op[static_cast<uint8_t>(e.op)];
    ++summary_->events;
    switch (e.op) {
      case Op::kRealloc:
        if (!(e.flags & kFlagFromNull)) {
          ObjectSlot& o = objects_[e.obj];
          if (o.state != 1)
            return bad(where(t, i),
                       "realloc of object " + std::to_string(e.obj) + " which is not live");
          live_bytes_ -= o.size;
          add_allocated(e.size);
          o.size = e.size;
          break;
        }
        [[fallthrough]];
      case Op::kMalloc:
      case Op::kCalloc:
      case Op::kAlignedAlloc: {
        ObjectSlot& o = objects_[e.obj];
        if (o.state != 0)
          return bad(where(t, i),
                     std::string(op_name(e.op)) + " of object " + std::to_string(e.obj) +
                         (o.state == 1 ? " which is already live" : " which was freed"));
        if (e.op == Op::kCalloc && e.aux != 0 && e.size % e.aux != 0)
          return bad(where(t, i), "calloc size is not a multiple of nmemb");
        o = {e.size, summary_->events, t, 1};
        ++live_objects_;
        summary_->peak_live_objects = std::max(summary_->peak_live_objects, live_objects_);
        add_allocated(e.size);
        break;
      }
      case Op::kFree: {
        ObjectSlot& o = objects_[e.obj];
        if (o.state != 1)
          return bad(where(t, i), "free of object " + std::to_string(e.obj) +
                                      (o.state == 0 ? " which was never allocated"
                                                    : " which is already freed (double free)"));
        e.size = o.size;  // v1 files do not store it: the object table knows
        ++summary_->lifetime_histogram[std::bit_width(summary_->events - o.born)];
        o.state = 2;
        live_bytes_ -= o.size;
        --live_objects_;
        if (o.thread != t) ++summary_->cross_thread_frees;
        break;
      }
      case Op::kAccess: {
        const ObjectSlot& o = objects_[e.obj];
        if (o.state != 1) return bad(where(t, i), "access to an object which is not live");
        if (e.aux > o.size || e.size > o.size - e.aux)
          return bad(where(t, i), "access outside the object");
        break;
      }
      case Op::kPhaseEnd:
      case Op::kThreadExit:
        if (e.op == Op::kThreadExit && i + 1 != events.size())
          return bad(where(t, i), "thread exit is not the thread's last event");
        break;
    }
    ++done_[t];
    return true;
  }

  Trace& trace_;
  TraceSummary* summary_;
  TraceError* error_;
  MmapVector<uint64_t> done_;  // events done per thread
  MmapVector<ObjectSlot> objects_;
  uint64_t live_bytes_ = 0;
  uint64_t live_objects_ = 0;
};

}  // namespace

bool check_trace(Trace& trace, TraceSummary* summary, TraceError* error) {
  *summary = TraceSummary{};
  return Checker(trace, summary, error).run();
}

}  // namespace allocmark
