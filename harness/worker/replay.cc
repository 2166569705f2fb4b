// Non-template parts of the replay engine: option names and trace preparation. Layer: harness.
#include "harness/worker/replay.h"

namespace allocmark {

bool parse_touch_policy(const std::string& text, TouchPolicy* out) {
  if (text == "none")
    *out = TouchPolicy::kNone;
  else if (text == "first")
    *out = TouchPolicy::kFirst;
  else if (text == "pages")
    *out = TouchPolicy::kPages;
  else if (text == "full")
    *out = TouchPolicy::kFull;
  else
    return false;
  return true;
}

const char* touch_policy_name(TouchPolicy p) {
  switch (p) {
    case TouchPolicy::kNone:
      return "none";
    case TouchPolicy::kFirst:
      return "first";
    case TouchPolicy::kPages:
      return "pages";
    case TouchPolicy::kFull:
      return "full";
  }
  return "?";
}

void mark_dependency_targets(Trace& trace) {
  for (auto& t : trace.threads)
    for (auto& e : t.events)
      if (e.flags & kFlagHasDep)
        trace.threads[e.dep_thread].events[e.dep_index].reserved |= kReservedIsTarget;
}

}  // namespace allocmark
