// Recorded event order of a trace. Layer: workloads.
#include "workloads/trace_order.h"

#include <vector>

namespace allocmark {

bool walk_in_order(const Trace& trace, const std::function<bool(uint32_t, uint32_t)>& visit,
                   std::string* error) {
  const size_t threads = trace.threads.size();
  std::vector<uint64_t> done(threads, 0);
  if (!trace.schedule.empty()) {
    for (const ScheduleRun& run : trace.schedule) {
      if (run.thread >= threads ||
          done[run.thread] + run.count > trace.threads[run.thread].events.size()) {
        *error = "schedule names more events than thread " + std::to_string(run.thread) + " has";
        return false;
      }
      for (uint32_t k = 0; k < run.count; ++k)
        if (!visit(run.thread, static_cast<uint32_t>(done[run.thread]++))) return true;
    }
    for (size_t t = 0; t < threads; ++t)
      if (done[t] != trace.threads[t].events.size()) {
        *error = "schedule leaves events of thread " + std::to_string(t) + " out";
        return false;
      }
    return true;
  }
  // No schedule: run each thread until it waits on an event not yet visited. Only threads with
  // events left are visited, so empty threads cost nothing per round.
  std::vector<uint32_t> active;
  for (uint32_t t = 0; t < threads; ++t)
    if (!trace.threads[t].events.empty()) active.push_back(t);
  bool remaining = true, progress = true;
  while (remaining && progress) {
    remaining = progress = false;
    size_t kept = 0;
    for (const uint32_t t : active) {
      const auto& events = trace.threads[t].events;
      while (done[t] < events.size()) {
        const Event& e = events[done[t]];
        if ((e.flags & kFlagHasDep) &&
            (e.dep_thread >= threads || done[e.dep_thread] <= e.dep_index)) {
          remaining = true;
          break;
        }
        if (!visit(t, static_cast<uint32_t>(done[t]++))) return true;
        progress = true;
      }
      if (done[t] < events.size()) active[kept++] = t;
    }
    active.resize(kept);
  }
  if (remaining) {
    *error = "dependencies cannot be met (cycle or bad thread)";
    return false;
  }
  return true;
}

}  // namespace allocmark
