// Bookkeeping of the precision rounds: per cell, its ok times so far and whether another
// repetition is due. Layer: harness (parent side). Cost: one order-statistic interval (a sort of
// at most max_reps values) per question.
#include "harness/run/precision_rounds.h"

#include <cmath>

#include "harness/run/result_schema.h"
#include "harness/run/statistics.h"

namespace allocmark {

void PrecisionTracker::add(const nlohmann::json& line) {
  State& s =
      cells_[{line.value("workload", ""), line.value("threads", 0u), line.value("allocator", "")}];
  ++s.lines;
  const double time = line_time(line);
  if (line.value("status", "") == "ok" && std::isfinite(time)) {
    s.ns.push_back(time);
  } else {
    s.failed = true;
  }
}

bool PrecisionTracker::within_target(const State& s) const {
  const double hw = relative_half_width(s.ns, level_);
  return std::isfinite(hw) && hw <= target_;  // NaN: too few for a 95 % interval yet
}

bool PrecisionTracker::state_needs_more(const State& s) const {
  if (!(target_ > 0) || s.failed || s.lines >= static_cast<size_t>(max_reps_)) return false;
  return !within_target(s);
}

bool PrecisionTracker::needs_more(const std::string& workload, uint32_t threads,
                                  const std::string& allocator) const {
  const auto it = cells_.find({workload, threads, allocator});
  if (it == cells_.end()) return target_ > 0 && max_reps_ > 0;  // not measured at all yet
  return state_needs_more(it->second);
}

size_t PrecisionTracker::cells_needing_more() const {
  size_t n = 0;
  for (const auto& [key, s] : cells_) n += state_needs_more(s) ? 1 : 0;
  return n;
}

size_t PrecisionTracker::cells_short_of_target() const {
  if (!(target_ > 0)) return 0;
  size_t n = 0;
  for (const auto& [key, s] : cells_) n += within_target(s) ? 0 : 1;
  return n;
}

}  // namespace allocmark
