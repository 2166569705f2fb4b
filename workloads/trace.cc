// Names and small helpers of the trace model. Layer: workloads.
#include "workloads/trace.h"

namespace allocmark {

const char* op_name(Op op) noexcept {
  switch (op) {
    case Op::kMalloc:
      return "malloc";
    case Op::kCalloc:
      return "calloc";
    case Op::kRealloc:
      return "realloc";
    case Op::kFree:
      return "free";
    case Op::kAlignedAlloc:
      return "aligned_alloc";
    case Op::kPhaseEnd:
      return "phase_end";
    case Op::kAccess:
      return "access";
    case Op::kThreadExit:
      return "thread_exit";
  }
  return "unknown";
}

uint64_t Trace::event_count() const noexcept {
  uint64_t n = 0;
  for (const auto& t : threads) n += t.events.size();
  return n;
}

}  // namespace allocmark
