// The worker's typed result record: what one replay measured, serialised once (nlohmann-json)
// into the line the parent appends to results.jsonl. Layer: harness (worker side).
//
// The field names and types are those of results/result_fields.json (the one list);
// result_record_test.cc fails when the two drift apart. Built and written after the replay from
// the worker's own heap (worker_heap.cc), never from the allocator under test.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "allocators/allocator.h"
#include "harness/worker/hw_counters.h"
#include "harness/worker/latency.h"
#include "harness/worker/timeline.h"

namespace allocmark {

// What the replay measured; absent when it never ran (bad trace, plugin refused to load).
struct ReplayMeasurement {
  uint64_t events = 0, wall_ns = 0;
  double ops_per_sec = 0, ns_per_op = 0;
  uint64_t user_ns = 0, sys_ns = 0;
  uint64_t baseline_rss_bytes = 0, peak_rss_bytes = 0, final_rss_bytes = 0, drained_rss_bytes = 0;
  std::string peak_rss_source;
  uint64_t final_live_bytes = 0;
  std::optional<double> fragmentation, utilisation;  // undefined without live bytes or footprint
  uint64_t minor_faults = 0, major_faults = 0, voluntary_switches = 0, involuntary_switches = 0;
  uint64_t phase_resets = 0;
  double latency_timer_ns = 0, latency_sampled_fraction = 0, latency_distortion = 0;
  // In-call time (harness/README.md, "Replay"); in_call_clock empty when it was not taken.
  std::string in_call_clock;
  uint64_t in_call_ns = 0;
  double in_call_ns_per_op = 0, in_call_timer_ns = 0, in_call_cap_ns = 0,
         in_call_timed_fraction = 0, in_call_distortion = 0;
  int pinned_cpu = -1;
  std::string touch;
  HwCounterValues hw;
  std::map<std::string, Percentiles> latency;  // by op name
  Timeline timeline;
  std::optional<AllocatorStats> allocator_stats;  // allocators that keep their own counters
};

struct ResultRecord {
  std::string status = "ok";
  std::string detail;
  std::string replay_mode;
  std::string allocator_version;
  std::string malloc_provider;
  nlohmann::json options = nlohmann::json::object();
  std::optional<ReplayMeasurement> measured;
};

void to_json(nlohmann::json& j, const ResultRecord& r);

}  // namespace allocmark
