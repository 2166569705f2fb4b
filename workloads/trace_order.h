// Walks a trace's events in its recorded order (check_trace, write_trace, the exporters): the
// recorded schedule, or a dependency-respecting round robin when there is none. Layer: workloads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "workloads/trace.h"

namespace allocmark {

// Calls visit(thread, index) once per event in order; stops early when visit returns false.
// Returns false with *error when the schedule does not match the streams or the dependencies
// cannot be met (a trace that check_trace would refuse). Cost: O(events + threads * rounds).
bool walk_in_order(const Trace& trace, const std::function<bool(uint32_t, uint32_t)>& visit,
                   std::string* error);

}  // namespace allocmark
