// Semantic check and summary of a trace, event by event in its recorded order (TraceChecker),
// and check_trace, which walks an in-memory trace in that order. Layer: workloads.
// Cost: one pass; memory in proportion to the live objects (workloads/live_objects.h).
#include "workloads/trace_check.h"

#include <bit>

#include "workloads/trace_order.h"

namespace allocmark {
namespace {

constexpr uint64_t kMaxRequest = 1ull << 47;  // larger than any address space we run on

std::string where(uint32_t t, uint64_t i) {
  return "thread " + std::to_string(t) + " event " + std::to_string(i);
}

}  // namespace

TraceChecker::TraceChecker(uint32_t threads, uint32_t object_count, TraceSummary* summary)
    : summary_(summary), object_count_(object_count), done_(threads, 0), exited_(threads, 0) {
  *summary_ = TraceSummary{};
  summary_->threads = threads;
  summary_->objects = object_count;
}

bool TraceChecker::bad(TraceError* error, uint32_t t, uint64_t i, std::string why) {
  *error = TraceError{"", 0, where(t, i), std::move(why)};
  return false;
}

void TraceChecker::add_allocated(uint64_t n) {
  live_bytes_ += n;
  if (live_bytes_ > summary_->peak_live_bytes) summary_->peak_live_bytes = live_bytes_;
  summary_->total_allocated_bytes += n;
  ++summary_->size_histogram[std::bit_width(n)];
}

// The checks that need no object state: op, flags, alignment, dependency, ranges.
bool TraceChecker::valid_fields(uint32_t t, uint64_t i, const Event& e, bool may_block,
                                TraceError* error) {
  if (static_cast<uint8_t>(e.op) >= kOpCount) return bad(error, t, i, "unknown operation");
  if (e.flags & ~kFlagsKnown) return bad(error, t, i, "unknown flag bits");
  if (e.align_log2 > 40) return bad(error, t, i, "alignment above 2^40");
  if (exited_[t]) return bad(error, t, i, "an event after the thread's exit");
  if (e.flags & kFlagHasDep) {
    if (e.dep_thread >= done_.size() || e.dep_thread == t)
      return bad(error, t, i, "dependency names a bad thread");
    if (done_[e.dep_thread] <= e.dep_index)
      return bad(error, t, i,
                 may_block ? "dependency cannot be met" : "runs before the event it depends on");
    ++summary_->dependencies;
  }
  if (e.op != Op::kPhaseEnd && e.op != Op::kThreadExit && e.obj >= object_count_)
    return bad(error, t, i, "object id " + std::to_string(e.obj) + " out of range");
  if (e.size > kMaxRequest && e.op != Op::kFree)
    return bad(error, t, i, "size " + std::to_string(e.size) + " is larger than 2^47");
  return true;
}

bool TraceChecker::begin_life(uint32_t t, uint64_t i, const Event& e, TraceError* error) {
  if (objects_.find(e.obj) || objects_.seen(e.obj))
    return bad(error, t, i,
               std::string(op_name(e.op)) + " of object " + std::to_string(e.obj) +
                   (objects_.find(e.obj) ? " which is already live" : " which was freed"));
  if (e.op == Op::kCalloc && e.aux != 0 && e.size % e.aux != 0)
    return bad(error, t, i, "calloc size is not a multiple of nmemb");
  objects_.insert(e.obj) = {e.size, summary_->events, t};
  ++live_objects_;
  summary_->peak_live_objects = std::max(summary_->peak_live_objects, live_objects_);
  add_allocated(e.size);
  return true;
}

bool TraceChecker::end_life(uint32_t t, uint64_t i, Event& e, TraceError* error) {
  const Object* o = objects_.find(e.obj);
  if (!o)
    return bad(error, t, i,
               "free of object " + std::to_string(e.obj) +
                   (objects_.seen(e.obj) ? " which is already freed (double free)"
                                         : " which was never allocated"));
  e.size = o->size;  // files do not store it: the object table knows
  ++summary_->lifetime_histogram[std::bit_width(summary_->events - o->born)];
  live_bytes_ -= o->size;
  --live_objects_;
  if (o->thread != t) ++summary_->cross_thread_frees;
  objects_.erase(e.obj);
  return true;
}

bool TraceChecker::step(uint32_t t, Event& e, bool may_block, TraceError* error) {
  const uint64_t i = done_[t];
  if (!valid_fields(t, i, e, may_block, error)) return false;
  ++summary_->by_op[static_cast<uint8_t>(e.op)];
  ++summary_->events;
  switch (e.op) {
    case Op::kRealloc:
      if (!(e.flags & kFlagFromNull)) {
        Object* o = objects_.find(e.obj);
        if (!o)
          return bad(error, t, i,
                     "realloc of object " + std::to_string(e.obj) + " which is not live");
        live_bytes_ -= o->size;
        add_allocated(e.size);
        o->size = e.size;
        break;
      }
      [[fallthrough]];
    case Op::kMalloc:
    case Op::kCalloc:
    case Op::kAlignedAlloc:
      if (!begin_life(t, i, e, error)) return false;
      break;
    case Op::kFree:
      if (!end_life(t, i, e, error)) return false;
      break;
    case Op::kAccess: {
      const Object* o = objects_.find(e.obj);
      if (!o) return bad(error, t, i, "access to an object which is not live");
      if (e.aux > o->size || e.size > o->size - e.aux)
        return bad(error, t, i, "access outside the object");
      break;
    }
    case Op::kPhaseEnd:
      ++phase_ends_;
      if (live_objects_ != 0) phase_ends_empty_ = false;
      break;
    case Op::kThreadExit:
      exited_[t] = 1;
      break;
  }
  ++done_[t];
  return true;
}

void TraceChecker::finish() {
  summary_->phase_ends_empty = done_.size() == 1 && phase_ends_ > 0 && phase_ends_empty_;
  summary_->final_live_bytes = live_bytes_;
  summary_->final_live_objects = live_objects_;
}

bool check_trace(Trace& trace, TraceSummary* summary, TraceError* error) {
  TraceChecker checker(static_cast<uint32_t>(trace.threads.size()), trace.object_count, summary);
  const bool may_block = trace.schedule.empty();  // a round robin, not a recorded order
  bool stepped = true;
  std::string order_error;
  const bool walked = walk_in_order(
      trace,
      [&](uint32_t t, uint32_t i) {
        return stepped = checker.step(t, trace.threads[t].events[i], may_block, error);
      },
      &order_error);
  if (!stepped) return false;
  if (!walked) {
    *error = TraceError{"", 0, may_block ? "dependencies" : "schedule", order_error};
    return false;
  }
  checker.finish();
  return true;
}

}  // namespace allocmark
