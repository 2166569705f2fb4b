// Serialisation of the worker's result record. Layer: harness (worker side).
#include "harness/worker/result_record.h"

namespace allocmark {

namespace {

nlohmann::json latency_json(const std::map<std::string, Percentiles>& by_op) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [op, s] : by_op)
    out[op] = {{"samples", s.samples}, {"p50", s.p50},   {"p90", s.p90},
               {"p99", s.p99},         {"p999", s.p999}, {"max", s.max}};
  return out;
}

void add_measurement(nlohmann::json& j, const ReplayMeasurement& m) {
  j["events"] = m.events;
  j["wall_ns"] = m.wall_ns;
  j["ops_per_sec"] = m.ops_per_sec;
  j["ns_per_op"] = m.ns_per_op;
  j["user_ns"] = m.user_ns;
  j["sys_ns"] = m.sys_ns;
  j["baseline_rss_bytes"] = m.baseline_rss_bytes;
  j["peak_rss_bytes"] = m.peak_rss_bytes;
  j["peak_rss_source"] = m.peak_rss_source;
  j["final_rss_bytes"] = m.final_rss_bytes;
  j["drained_rss_bytes"] = m.drained_rss_bytes;
  j["final_live_bytes"] = m.final_live_bytes;
  if (m.fragmentation) j["fragmentation"] = *m.fragmentation;
  if (m.utilisation) j["utilisation"] = *m.utilisation;
  j["minor_faults"] = m.minor_faults;
  j["major_faults"] = m.major_faults;
  j["voluntary_switches"] = m.voluntary_switches;
  j["involuntary_switches"] = m.involuntary_switches;
  j["phase_resets"] = m.phase_resets;
  j["latency_timer_ns"] = m.latency_timer_ns;
  j["latency_sampled_fraction"] = m.latency_sampled_fraction;
  j["latency_distortion"] = m.latency_distortion;
  if (!m.in_call_clock.empty()) {
    j["in_call_ns"] = m.in_call_ns;
    j["in_call_ns_per_op"] = m.in_call_ns_per_op;
    j["in_call_timer_ns"] = m.in_call_timer_ns;
    j["in_call_cap_ns"] = m.in_call_cap_ns;
    j["in_call_clock"] = m.in_call_clock;
    j["in_call_timed_fraction"] = m.in_call_timed_fraction;
    j["in_call_distortion"] = m.in_call_distortion;
  }
  j["pinned_cpu"] = m.pinned_cpu;
  j["touch"] = m.touch;
  if (m.hw.values) {
    for (size_t i = 0; i < HwCounterValues::kNames.size(); ++i)
      j[HwCounterValues::kNames[i]] = (*m.hw.values)[i];
  } else {
    j["hw_counters_unavailable"] = m.hw.why_unavailable;
  }
  if (m.allocator_stats) {
    const AllocatorStats& s = *m.allocator_stats;
    j["allocator_stats"] = {{"bytes_reserved", s.bytes_reserved},
                            {"bytes_committed", s.bytes_committed},
                            {"bytes_in_use", s.bytes_in_use},
                            {"os_maps", s.os_maps},
                            {"os_unmaps", s.os_unmaps}};
  }
  j["latency"] = latency_json(m.latency);
  j["timeline"] = {{"t_ns", m.timeline.t_ns}, {"rss", m.timeline.rss}, {"live", m.timeline.live}};
}

}  // namespace

void to_json(nlohmann::json& j, const ResultRecord& r) {
  j = {{"status", r.status},
       {"detail", r.detail},
       {"replay_mode", r.replay_mode},
       {"allocator_version", r.allocator_version},
       {"malloc_provider", r.malloc_provider},
       {"options", r.options}};
  if (r.measured) add_measurement(j, *r.measured);
}

}  // namespace allocmark
