// Cells from result lines, their statistics, ratios to the baseline, the A/A noise floor, the
// precision reached, summary.json. Layer: harness (parent side). Cost: O(lines log lines) plus a
// 2000-resample bootstrap per metric and cell (about 0.1 ms each); runs once per run or merge.
// The Markdown rendering of the result lives in summary_markdown.cc.
#include "harness/run/run_summary.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <tuple>

#include "harness/run/comparison.h"
#include "harness/run/result_schema.h"

namespace allocmark {
namespace {

using nlohmann::json;

constexpr double kMemoryNoiseFloor = 256 * 1024;  // bytes of stddev below which RSS is "quiet"
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The metrics compared against the baseline; index into CellData::values and NoiseFloors.
enum Metric { kTime = 0, kMemory = 1, kInCall = 2, kMetrics = 3 };
const char* metric_key(int m) { return m == kTime ? "time" : m == kMemory ? "memory" : "in_call"; }

struct CellData {
  std::string workload, allocator;
  uint32_t threads = 0;
  size_t first_seen = 0;
  std::vector<double> ns, heap, in_call;
  std::vector<int> ns_reps, heap_reps, in_call_reps;  // rep index of each value
  std::map<std::string, int> failed;                  // status -> count
  std::string time_field = "ns_per_op";  // wall_ns for a program cell (result_schema.h)
  std::string replay_mode;               // of the last line that said ("" for programs)
  bool program = false;                  // "kind": "program": no in-call time
  size_t lines = 0;
  const std::vector<double>& values(int metric) const {
    return metric == kMemory ? heap : metric == kInCall ? in_call : ns;
  }
};

// A comparison group: one workload at one thread count, where every allocator replayed one trace.
using GroupKey = std::pair<std::string, uint32_t>;
GroupKey group_of(const CellData& c) { return {c.workload, c.threads}; }

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

void add_line(std::map<std::tuple<std::string, uint32_t, std::string>, CellData>& cells,
              const json& l) {
  const std::string workload = l.value("workload", "?"), allocator = l.value("allocator", "?");
  const uint32_t threads = l.value("threads", 0u);
  auto [it, inserted] = cells.try_emplace({workload, threads, allocator});
  CellData& c = it->second;
  if (inserted) {
    c.workload = workload;
    c.allocator = allocator;
    c.threads = threads;
    c.first_seen = cells.size();
  }
  ++c.lines;
  if (l.value("kind", "") == "program") c.program = true;
  if (l.contains("replay_mode") && l["replay_mode"].is_string()) c.replay_mode = l["replay_mode"];
  const int rep = l.value("rep", -1);
  const std::string status = l.value("status", "?");
  if (status != "ok") {
    ++c.failed[status];
    return;
  }
  if (const double time = line_time(l); std::isfinite(time)) {
    c.ns.push_back(time);
    c.ns_reps.push_back(rep);
    c.time_field = time_field(l);
  }
  if (l.contains("peak_rss_bytes") && l["peak_rss_bytes"].is_number()) {
    const double peak = l["peak_rss_bytes"].get<double>();
    const double base = l.value("baseline_rss_bytes", 0.0);
    c.heap.push_back(std::max(0.0, peak - base));
    c.heap_reps.push_back(rep);
  }
  if (l.contains("in_call_ns_per_op") && l["in_call_ns_per_op"].is_number()) {
    c.in_call.push_back(l["in_call_ns_per_op"].get<double>());
    c.in_call_reps.push_back(rep);
  }
}

// Which metric a cell's ranking rests on, and why. Wall time, except a threaded replay with more
// trace threads than the machine has cores: its OS threads take turns, so wall time measures
// the hand-offs (futex waits, context switches) more than the allocator (systemui, 393 trace
// threads on 2 cores: 385-422 ns/event with 15 % CV threaded, 21-30 ns/event with 2-3 % serial,
// and opposite rankings); the time inside allocator calls does not include them.
std::pair<int, std::string> rank_metric_of(const CellData& c, const SummaryContext& ctx) {
  if (c.program || c.replay_mode != "threads") return {kTime, ""};
  if (ctx.cores == 0 || c.threads <= ctx.cores) return {kTime, ""};
  const std::string why = "threaded replay of " + std::to_string(c.threads) + " trace threads on " +
                          std::to_string(ctx.cores) + " cores: wall time measures thread hand-offs";
  if (c.in_call.empty()) return {kTime, why + ", but no in-call time was recorded"};
  return {kInCall, why + "; ranked by the time inside allocator calls"};
}

// Cells in report order: workloads as first seen, then threads, then allocator name; stable
// however the cells were shuffled, extended by precision rounds or merged.
std::vector<CellData> collect_cells(const std::vector<json>& lines) {
  std::map<std::tuple<std::string, uint32_t, std::string>, CellData> cells;
  for (const auto& l : lines) add_line(cells, l);
  std::map<std::string, size_t> workload_order;
  for (const auto& [key, c] : cells) {
    auto [it, inserted] = workload_order.try_emplace(c.workload, c.first_seen);
    if (!inserted) it->second = std::min(it->second, c.first_seen);
  }
  std::vector<CellData> order;
  for (auto& [key, c] : cells) order.push_back(std::move(c));
  std::sort(order.begin(), order.end(), [&](const CellData& a, const CellData& b) {
    return std::tuple(workload_order[a.workload], a.threads, a.allocator) <
           std::tuple(workload_order[b.workload], b.threads, b.allocator);
  });
  return order;
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

// A cell's own statistics and warnings (everything but the comparison and precision).
json cell_statistics(const CellData& c, const StatsPolicy& time_policy,
                     const StatsPolicy& mem_policy, const std::pair<int, std::string>& rank) {
  json cell = {
      {"name", c.workload + "/threads:" + std::to_string(c.threads) + "/alloc:" + c.allocator},
      {"workload", c.workload},
      {"threads", c.threads},
      {"allocator", c.allocator},
      {"lines", c.lines},
      {"n", c.ns.size()},
      {"failed", c.failed}};
  cell["time"] = metric_json(c.time_field.c_str(), "ns", "time", c.ns, c.ns_reps, time_policy);
  cell["memory"] = metric_json("peak_rss_bytes - baseline_rss_bytes", "bytes", "memory", c.heap,
                               c.heap_reps, mem_policy);
  cell["in_call"] = c.program ? json(nullptr)
                              : metric_json("in_call_ns_per_op", "ns", "in-call time", c.in_call,
                                            c.in_call_reps, time_policy);
  cell["rank_metric"] = metric_key(rank.first);
  cell["rank_reason"] = rank.second.empty() ? json(nullptr) : json(rank.second);
  json warnings = json::array();
  if (c.ns.size() < time_policy.min_reps)
    warnings.push_back("too few repetitions: " + std::to_string(c.ns.size()) + " ok (< " +
                       std::to_string(time_policy.min_reps) + ")");
  for (const auto& [status, count] : c.failed)
    warnings.push_back(std::to_string(count) + " of " + std::to_string(c.lines) +
                       " repetition(s) " + status);
  for (const char* m : {"time", "memory"})
    for (const auto& w : cell[m]["warnings"]) warnings.push_back(w);
  // In-call noise matters where the ranking rests on it.
  if (rank.first == kInCall)
    for (const auto& w : cell["in_call"]["warnings"]) warnings.push_back(w);
  cell["warnings"] = warnings;
  return cell;
}

json ratio_json(const RatioInterval& r) {
  return {{"ratio", nullable(r.ratio)}, {"ci_low", nullable(r.low)}, {"ci_high", nullable(r.high)}};
}

// Median of the finite values, skipping one key (the group an A/A cell is judged in: its own
// floor would make its verdict "no difference" by construction).
double median_floor(const std::map<GroupKey, double>& floors, const GroupKey* skip = nullptr) {
  std::vector<double> v;
  for (const auto& [key, floor] : floors)
    if (std::isfinite(floor) && !(skip && key == *skip)) v.push_back(floor);
  return median_of(v);
}

// The A/A comparison per group and the floors it sets.
struct NoiseFloors {
  std::map<GroupKey, double> group[kMetrics];  // [Metric]: A/A reach per group
  double run[kMetrics] = {kNaN, kNaN, kNaN};   // median over groups
  json groups = json::array();
};

NoiseFloors measure_noise_floors(
    const std::map<GroupKey, std::map<std::string, const CellData*>>& groups,
    const std::string& baseline, const std::string& aa) {
  NoiseFloors f;
  if (aa.empty()) return f;
  for (const auto& [key, by_alloc] : groups) {
    const auto base = by_alloc.find(baseline), copy = by_alloc.find(aa);
    if (base == by_alloc.end() || copy == by_alloc.end()) continue;
    json entry = {{"workload", key.first}, {"threads", key.second}};
    for (int metric = 0; metric < kMetrics; ++metric) {
      const auto r = ratio_of_medians(copy->second->values(metric), base->second->values(metric));
      json m = nullptr;
      if (r) {
        f.group[metric][key] = noise_floor_of(*r);
        m = ratio_json(*r);
        m["floor"] = nullable(f.group[metric][key]);
      }
      entry[metric_key(metric)] = m;
    }
    f.groups.push_back(std::move(entry));
  }
  for (int metric = 0; metric < kMetrics; ++metric) f.run[metric] = median_floor(f.group[metric]);
  return f;
}

// One metric of vs_baseline: ratio, interval, the floor it was judged against and the verdict.
json comparison_metric(const CellData& c, const CellData& base, int metric, bool is_aa,
                       const NoiseFloors& floors) {
  const auto r = ratio_of_medians(c.values(metric), base.values(metric));
  if (!r) return nullptr;  // e.g. the baseline's memory median is 0: no ratio to take
  const GroupKey key = group_of(c);
  double floor = kNaN;
  json source = nullptr;
  if (is_aa) {
    floor = median_floor(floors.group[metric], &key);
    if (std::isfinite(floor)) source = "run, without this group";
  } else if (auto it = floors.group[metric].find(key);
             it != floors.group[metric].end() && std::isfinite(it->second)) {
    floor = it->second;
    source = "group";
  } else if (std::isfinite(floors.run[metric])) {
    floor = floors.run[metric];
    source = "run";
  }
  json m = ratio_json(*r);
  m["floor"] = nullable(floor);
  m["floor_source"] = source;
  m["verdict"] = verdict_name(compare_verdict(*r, floor), metric == kMemory);
  return m;
}

// time and memory always; in_call where both sides recorded it. rank_metric names the one the
// cell's ranking rests on (the Markdown table's ratio column shows that one).
json vs_baseline_json(const CellData& c, const CellData* base, bool is_aa,
                      const NoiseFloors& floors, int rank) {
  if (!base || base == &c || c.ns.empty() || base->ns.empty()) return nullptr;
  return {{"baseline", base->allocator},
          {"rank_metric", metric_key(rank)},
          {"time", comparison_metric(c, *base, kTime, is_aa, floors)},
          {"memory", comparison_metric(c, *base, kMemory, is_aa, floors)},
          {"in_call", comparison_metric(c, *base, kInCall, is_aa, floors)}};
}

// Why a cell with a target did not reach it. Mirrors the runner's rule for extra rounds: a cell
// is repeated while it has no failed repetition, is not yet within the target and is below the
// cap, until the time budget runs out.
std::string why_not_reached(const CellData& c, const SummaryContext& ctx, size_t min_n) {
  const std::string few =
      c.ns.size() < min_n ? "fewer than " + std::to_string(min_n) + " ok repetitions" : "";
  if (!c.failed.empty()) {
    size_t failed = 0;
    for (const auto& [status, count] : c.failed) failed += static_cast<size_t>(count);
    return (few.empty() ? "" : few + ": ") + std::to_string(failed) +
           " repetition(s) failed, and failed cells are not repeated";
  }
  const std::string prefix = few.empty() ? "" : few + ": ";
  if (ctx.max_reps > 0 && c.lines >= static_cast<size_t>(ctx.max_reps))
    return prefix + "max reps " + std::to_string(ctx.max_reps) + " reached";
  if (ctx.budget_reached) return prefix + "time budget reached";
  if (ctx.interrupted) return prefix + "run interrupted";
  return few.empty() ? "not repeated further" : few;
}

json precision_json(const CellData& c, const SummaryContext& ctx, double level) {
  const double hw = relative_half_width(c.ns, level);
  if (!(ctx.precision > 0))
    return {{"target", nullptr},
            {"half_width", nullable(hw)},
            {"reached", false},
            {"why_not", "no precision target (--precision off)"}};
  const bool reached = std::isfinite(hw) && hw <= ctx.precision;
  return {{"target", ctx.precision},
          {"half_width", nullable(hw)},
          {"reached", reached},
          {"why_not",
           reached ? json(nullptr) : json(why_not_reached(c, ctx, min_reps_for_level(level)))}};
}

std::string resolve_baseline(const std::vector<CellData>& cells, const SummaryContext& ctx) {
  if (!ctx.baseline.empty()) return ctx.baseline;
  for (const auto& c : cells)
    if (c.allocator == "glibc") return "glibc";
  return cells.empty() ? "" : cells.front().allocator;
}

json methods_json(const StatsPolicy& p) {
  return {
      {"median_ci",
       "distribution-free order-statistic (binomial) interval [x_(k), x_(n-k+1)], largest k with "
       "coverage >= 95 %; below n = 6 [min, max] with its real coverage (93.75 % at n = 5); null "
       "below 2"},
      {"cv", "sample standard deviation (n - 1) / mean"},
      {"outliers", "|x - median| > 3 * 1.4826 * MAD (scale floored at 0.1 % of |median|)"},
      {"noisy", "cv > noisy_cv and stddev > noise_floor"},
      {"ratio_ci",
       "percentile bootstrap of median(cell) / median(baseline cell of the same workload and "
       "threads): each side resampled with replacement independently (unpaired: pairing by round "
       "was measured not to tighten the spread on the reference machine, 7.5 % vs 6.9 %); null "
       "below 2 ok repetitions a side"},
      {"bootstrap",
       {{"resamples", kBootstrapResamples},
        {"seed", kBootstrapSeed},
        {"level", p.level},
        {"rng", "mt19937_64, index = (draw * n) >> 64"},
        {"quantiles", "linear (numpy default)"}}},
      {"noise_floor",
       "per group max(ci_high, 1 / ci_low) - 1 of the A/A ratio (the baseline run a second "
       "time under another name); run level: median over groups"},
      {"verdict",
       "'no difference' when the ratio's interval contains 1, or is missing, or max(ratio, 1 / "
       "ratio) - 1 <= the floor (the group's; the run's where the group has none; for the A/A "
       "cell itself the run's without its own group); else faster/slower (memory: "
       "smaller/larger)"},
      {"rank_metric",
       "time (wall ns per event; wall_ns for programs), except threaded replays with more trace "
       "threads than machine.cores: in_call (in_call_ns_per_op, time inside allocator calls), "
       "because their wall time measures thread hand-offs"},
      {"precision",
       "relative half-width max(median - ci_low, ci_high - median) / median of the time median's "
       "interval, only where its coverage reaches 95 % (n >= 6); reached when <= target"}};
}

}  // namespace

StatsPolicy time_stats_policy() { return StatsPolicy{}; }

StatsPolicy memory_stats_policy() {
  StatsPolicy p;
  p.noise_floor = kMemoryNoiseFloor;
  return p;
}

SummaryContext summary_context(const json& meta) {
  SummaryContext ctx;
  if (!meta.is_object()) return ctx;
  const json plan = meta.value("plan", json::object());
  if (plan.is_object()) {
    if (plan.contains("baseline") && plan["baseline"].is_string()) ctx.baseline = plan["baseline"];
    if (plan.contains("aa") && plan["aa"].is_string()) ctx.aa = plan["aa"];
    ctx.aa_of = ctx.baseline;
    if (plan.contains("precision") && plan["precision"].is_number())
      ctx.precision = plan["precision"].get<double>();
    if (plan.contains("max_reps") && plan["max_reps"].is_number_integer())
      ctx.max_reps = plan["max_reps"].get<int>();
  }
  const json allocators = meta.value("allocators", json::object());
  if (!ctx.aa.empty() && allocators.is_object() && allocators.contains(ctx.aa)) {
    const json& entry = allocators[ctx.aa];
    if (entry.is_object() && entry.contains("aa_of") && entry["aa_of"].is_string())
      ctx.aa_of = entry["aa_of"];
  }
  const json rounds = meta.value("precision_rounds", json::object());
  if (rounds.is_object()) ctx.budget_reached = rounds.value("budget_reached", false);
  ctx.interrupted = meta.value("interrupted", false) == true;
  const json machine = meta.value("machine", json::object());
  if (machine.is_object() && machine.contains("cores") && machine["cores"].is_number_integer() &&
      machine["cores"].get<int64_t>() > 0)
    ctx.cores = static_cast<unsigned>(machine["cores"].get<int64_t>());
  return ctx;
}

json summarize_results(const std::vector<json>& lines, const SummaryContext& ctx) {
  const std::vector<CellData> cells = collect_cells(lines);
  const std::string baseline = resolve_baseline(cells, ctx);
  std::map<GroupKey, std::map<std::string, const CellData*>> groups;
  for (const auto& c : cells) groups[group_of(c)][c.allocator] = &c;
  // The A/A pair is the copy and what it copies, even when the ratios are taken against another
  // allocator (`allocmark summarize --baseline`): the floor is the machine's, not the baseline's.
  const std::string aa_of = ctx.aa_of.empty() ? baseline : ctx.aa_of;
  const NoiseFloors floors = measure_noise_floors(groups, aa_of, ctx.aa);

  const StatsPolicy time_policy = time_stats_policy(), mem_policy = memory_stats_policy();
  json out_cells = json::array(), all_warnings = json::array();
  size_t reached = 0;
  for (const CellData& c : cells) {
    const auto rank = rank_metric_of(c, ctx);
    json cell = cell_statistics(c, time_policy, mem_policy, rank);
    const auto& group = groups[group_of(c)];
    const auto base = group.find(baseline);
    const bool judged_as_aa = !ctx.aa.empty() && c.allocator == ctx.aa && aa_of == baseline;
    cell["vs_baseline"] = vs_baseline_json(c, base == group.end() ? nullptr : base->second,
                                           judged_as_aa, floors, rank.first);
    cell["precision"] = precision_json(c, ctx, time_policy.level);
    if (cell["precision"]["reached"] == true) ++reached;
    for (const auto& w : cell["warnings"])
      all_warnings.push_back(cell["name"].get<std::string>() + ": " + w.get<std::string>());
    out_cells.push_back(std::move(cell));
  }
  json noise = {{"allocator", ctx.aa.empty() ? json(nullptr) : json(ctx.aa)},
                {"baseline", ctx.aa.empty() ? json(nullptr) : json(aa_of)},
                {"time", nullable(floors.run[kTime])},
                {"memory", nullable(floors.run[kMemory])},
                {"in_call", nullable(floors.run[kInCall])},
                {"groups", floors.groups}};
  json precision = {{"target", ctx.precision > 0 ? json(ctx.precision) : json(nullptr)},
                    {"metric", "time"},
                    {"level", time_policy.level},
                    {"max_reps", ctx.max_reps > 0 ? json(ctx.max_reps) : json(nullptr)},
                    {"budget_reached", ctx.budget_reached},
                    {"cells", cells.size()},
                    {"reached", reached}};
  return {{"schema_version", 2},
          {"baseline", baseline.empty() ? json(nullptr) : json(baseline)},
          {"policy", {{"time", policy_json(time_policy)}, {"memory", policy_json(mem_policy)}}},
          {"methods", methods_json(time_policy)},
          {"noise_floor", noise},
          {"precision", precision},
          {"cells", out_cells},
          {"warnings", all_warnings}};
}

}  // namespace allocmark
