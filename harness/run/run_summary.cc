// Cells from result lines, their statistics, summary.json and the Markdown table. Layer: harness
// (parent side). Cost: O(lines log lines); runs once at the end of a run or merge.
#include "harness/run/run_summary.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <tuple>

namespace allocmark {
namespace {

using nlohmann::json;

constexpr double kMemoryNoiseFloor = 256 * 1024;  // bytes of stddev below which RSS is "quiet"

struct CellData {
  std::string workload, allocator;
  uint32_t threads = 0;
  size_t first_seen = 0;
  std::vector<double> ns, heap;
  std::vector<int> ns_reps, heap_reps;  // rep index of each value
  std::map<std::string, int> failed;    // status -> count
  size_t lines = 0;
};

json nullable(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %%", v * 100);
  return buf;
}

std::string join_reps(const std::vector<int>& reps) {
  std::string s;
  for (int r : reps) s += (s.empty() ? "" : ",") + std::to_string(r);
  return s;
}

json metric_json(const char* metric, const char* unit, const char* label,
                 const std::vector<double>& values, const std::vector<int>& reps,
                 const StatsPolicy& policy) {
  const SampleSummary s = summarize_sample(values, policy);
  std::vector<int> outlier_reps;
  for (size_t i : s.outliers) outlier_reps.push_back(reps[i]);
  json warnings = json::array();
  if (s.noisy)
    warnings.push_back(std::string(label) + " noisy: CV " + percent(s.cv) + " > " +
                       percent(policy.noisy_cv));
  if (!outlier_reps.empty())
    warnings.push_back(std::string(label) + " outlier" + (outlier_reps.size() > 1 ? "s" : "") +
                       " (MAD): rep " + join_reps(outlier_reps));
  return {{"metric", metric},
          {"unit", unit},
          {"n", s.n},
          {"median", nullable(s.median)},
          {"ci_low", s.ci ? json(s.ci->low) : json(nullptr)},
          {"ci_high", s.ci ? json(s.ci->high) : json(nullptr)},
          {"ci_coverage", s.ci ? json(s.ci->coverage) : json(nullptr)},
          {"cv", nullable(s.cv)},
          {"mad", nullable(s.mad)},
          {"min", nullable(s.min)},
          {"max", nullable(s.max)},
          {"noisy", s.noisy},
          {"outliers", outlier_reps},
          {"warnings", warnings}};
}

json policy_json(const StatsPolicy& p) {
  return {{"level", p.level},
          {"noisy_cv", p.noisy_cv},
          {"min_reps", p.min_reps},
          {"outlier_mads", p.outlier_mads},
          {"mad_floor_rel", p.mad_floor_rel},
          {"noise_floor", p.noise_floor}};
}

// "12.34 [12.01, 12.80]" or "12.34" when there is no interval.
std::string with_interval(const json& m, double scale, const char* format) {
  if (!m["median"].is_number()) return "-";
  char buf[128];
  std::snprintf(buf, sizeof buf, format, m["median"].get<double>() / scale);
  std::string out = buf;
  if (m["ci_low"].is_number()) {
    std::string lo, hi;
    std::snprintf(buf, sizeof buf, format, m["ci_low"].get<double>() / scale);
    lo = buf;
    std::snprintf(buf, sizeof buf, format, m["ci_high"].get<double>() / scale);
    hi = buf;
    out += " [" + lo + ", " + hi + "]";
    // Fewer than 6 repetitions: [min, max], whose coverage is below 95 %.
    if (m["ci_coverage"].get<double>() < 0.95) out += "*";
  }
  return out;
}

std::string cv_text(const json& m) {
  if (!m["cv"].is_number()) return "-";
  return percent(m["cv"].get<double>()) + (m.value("noisy", false) ? " (noisy)" : "");
}

}  // namespace

StatsPolicy time_stats_policy() { return StatsPolicy{}; }

StatsPolicy memory_stats_policy() {
  StatsPolicy p;
  p.noise_floor = kMemoryNoiseFloor;
  return p;
}

json summarize_results(const std::vector<json>& lines) {
  std::map<std::tuple<std::string, uint32_t, std::string>, CellData> cells;
  for (const auto& l : lines) {
    const std::string workload = l.value("workload", "?"), allocator = l.value("allocator", "?");
    const uint32_t threads = l.value("threads", 0u);
    auto [it, inserted] = cells.try_emplace({workload, threads, allocator});
    CellData& c = it->second;
    if (inserted) c = CellData{workload, allocator, threads, cells.size()};
    ++c.lines;
    const int rep = l.value("rep", -1);
    const std::string status = l.value("status", "?");
    if (status != "ok") {
      ++c.failed[status];
      continue;
    }
    if (l.contains("ns_per_op") && l["ns_per_op"].is_number()) {
      c.ns.push_back(l["ns_per_op"].get<double>());
      c.ns_reps.push_back(rep);
    }
    if (l.contains("peak_rss_bytes") && l["peak_rss_bytes"].is_number()) {
      const double peak = l["peak_rss_bytes"].get<double>();
      const double base = l.value("baseline_rss_bytes", 0.0);
      c.heap.push_back(std::max(0.0, peak - base));
      c.heap_reps.push_back(rep);
    }
  }
  // Report order: workloads as first seen, then threads, then allocator name: stable however
  // the cells were shuffled or merged.
  std::map<std::string, size_t> workload_order;
  for (const auto& [key, c] : cells) {
    auto [it, inserted] = workload_order.try_emplace(c.workload, c.first_seen);
    if (!inserted) it->second = std::min(it->second, c.first_seen);
  }
  std::vector<const CellData*> order;
  for (const auto& [key, c] : cells) order.push_back(&c);
  std::sort(order.begin(), order.end(), [&](const CellData* a, const CellData* b) {
    return std::tuple(workload_order[a->workload], a->threads, a->allocator) <
           std::tuple(workload_order[b->workload], b->threads, b->allocator);
  });

  const StatsPolicy time_policy = time_stats_policy(), mem_policy = memory_stats_policy();
  json out_cells = json::array(), all_warnings = json::array();
  for (const CellData* c : order) {
    const std::string name =
        c->workload + "/threads:" + std::to_string(c->threads) + "/alloc:" + c->allocator;
    json cell = {{"name", name},          {"workload", c->workload},
                 {"threads", c->threads}, {"allocator", c->allocator},
                 {"lines", c->lines},     {"n", c->ns.size()},
                 {"failed", c->failed}};
    cell["time"] = metric_json("ns_per_op", "ns", "time", c->ns, c->ns_reps, time_policy);
    cell["memory"] = metric_json("peak_rss_bytes - baseline_rss_bytes", "bytes", "memory", c->heap,
                                 c->heap_reps, mem_policy);
    json warnings = json::array();
    if (c->ns.size() < time_policy.min_reps)
      warnings.push_back("too few repetitions: " + std::to_string(c->ns.size()) + " ok (< " +
                         std::to_string(time_policy.min_reps) + ")");
    for (const auto& [status, count] : c->failed)
      warnings.push_back(std::to_string(count) + " of " + std::to_string(c->lines) +
                         " repetition(s) " + status);
    for (const char* m : {"time", "memory"})
      for (const auto& w : cell[m]["warnings"]) warnings.push_back(w);
    for (const auto& w : warnings) all_warnings.push_back(name + ": " + w.get<std::string>());
    cell["warnings"] = warnings;
    out_cells.push_back(std::move(cell));
  }
  return {{"schema_version", 1},
          {"policy", {{"time", policy_json(time_policy)}, {"memory", policy_json(mem_policy)}}},
          {"methods",
           {{"median_ci",
             "distribution-free order-statistic (binomial) interval [x_(k), x_(n-k+1)], largest "
             "k with coverage >= 95 %; below n = 6 [min, max] with its real coverage (93.75 % at "
             "n = 5); null below 2"},
            {"cv", "sample standard deviation (n - 1) / mean"},
            {"outliers", "|x - median| > 3 * 1.4826 * MAD (scale floored at 0.1 % of |median|)"},
            {"noisy", "cv > noisy_cv and stddev > noise_floor"}}},
          {"cells", out_cells},
          {"warnings", all_warnings}};
}

std::string markdown_summary(const json& summary) {
  std::string out =
      "| workload | threads | allocator | n | ns/event median [95 % CI] | CV | heap MiB median "
      "[95 % CI] | CV | status |\n"
      "|---|---:|---|---:|---:|---:|---:|---:|---|\n";
  size_t too_few = 0, cells = 0;
  std::vector<std::string> other_warnings;
  for (const auto& c : summary.value("cells", json::array())) {
    ++cells;
    const json& t = c["time"];
    const json& m = c["memory"];
    std::string status = "ok";
    if (!c["failed"].empty()) {
      status.clear();
      for (auto it = c["failed"].begin(); it != c["failed"].end(); ++it)
        status += (status.empty() ? "" : ", ") + it.key() + " x" + std::to_string(it->get<int>());
    }
    std::string markers;
    if (!t["outliers"].empty()) markers += " †";
    if (!m["outliers"].empty()) markers += " ‡";
    out += "| " + c["workload"].get<std::string>() + " | " +
           std::to_string(c["threads"].get<uint32_t>()) + " | " +
           c["allocator"].get<std::string>() + " | " + std::to_string(c["n"].get<size_t>()) +
           " | " + with_interval(t, 1, "%.2f") + " | " + cv_text(t) + " | " +
           with_interval(m, 1048576.0, "%.1f") + " | " + cv_text(m) + " | " + status + markers +
           " |\n";
    for (const auto& w : c["warnings"]) {
      const std::string text = w.get<std::string>();
      if (text.rfind("too few repetitions", 0) == 0) {
        ++too_few;
        continue;
      }
      other_warnings.push_back(c["name"].get<std::string>() + ": " + text);
    }
  }
  out +=
      "\nIntervals: distribution-free order statistics of the median, 95 % coverage from 6 "
      "repetitions; * marks [min, max] of fewer, with lower coverage (93.75 % at 5). "
      "† time outlier, ‡ memory outlier (MAD).\n";
  if (too_few || !other_warnings.empty()) {
    out += "\nWarnings:\n";
    if (too_few)
      out += "- " + std::to_string(too_few) + " of " + std::to_string(cells) +
             " cells have fewer than " +
             std::to_string(summary["policy"]["time"]["min_reps"].get<size_t>()) +
             " good repetitions: their medians are weak\n";
    for (const auto& w : other_warnings) out += "- " + w + "\n";
  }
  return out;
}

}  // namespace allocmark
