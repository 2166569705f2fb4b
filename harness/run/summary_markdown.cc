// summary.json as the Markdown table `run` and `merge` print: medians with intervals, ratios to
// the baseline with their verdicts, precision, then the noise floor and the warnings. Layer:
// harness (parent side). Reads only the summary: no statistic is computed here.
#include <cstdio>
#include <map>

#include "harness/run/run_summary.h"

namespace allocmark {
namespace {

using nlohmann::json;

std::string format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string percent(double v) { return format("%.1f %%", v * 100); }

// "12.34 [12.01, 12.80]" or "12.34" when there is no interval.
std::string with_interval(const json& m, double scale, const char* fmt) {
  if (!m["median"].is_number()) return "-";
  std::string out = format(fmt, m["median"].get<double>() / scale);
  if (m["ci_low"].is_number()) {
    out += " [" + format(fmt, m["ci_low"].get<double>() / scale) + ", " +
           format(fmt, m["ci_high"].get<double>() / scale) + "]";
    // Fewer than 6 repetitions: [min, max], whose coverage is below 95 %.
    if (m["ci_coverage"].get<double>() < 0.95) out += "*";
  }
  return out;
}

// A replay's time per event in ns; a program's wall time (metric wall_ns) in seconds.
std::string time_text(const json& t) {
  if (t.value("metric", "") == "wall_ns") return with_interval(t, 1e9, "%.3f") + " s";
  return with_interval(t, 1, "%.2f");
}

std::string cv_text(const json& m) {
  if (!m["cv"].is_number()) return "-";
  return percent(m["cv"].get<double>()) + (m.value("noisy", false) ? " (noisy)" : "");
}

// "0.612 [0.580, 0.655] faster", "baseline", or "-" when there is no ratio.
std::string ratio_text(const json& cell, const char* metric, const std::string& baseline) {
  if (cell["allocator"] == baseline) return "baseline";
  const json& vs = cell["vs_baseline"];
  if (!vs.is_object() || !vs[metric].is_object()) return "-";
  const json& m = vs[metric];
  if (!m["ratio"].is_number()) return "-";
  std::string out = format("%.3f", m["ratio"].get<double>());
  if (m["ci_low"].is_number())
    out += " [" + format("%.3f", m["ci_low"].get<double>()) + ", " +
           (m["ci_high"].is_number() ? format("%.3f", m["ci_high"].get<double>()) : "inf") + "]";
  return out + " " + m["verdict"].get<std::string>();
}

// "±2.1 %" when the target was reached, "no (±6.3 %)" or "no (n < 6)" when not, "-" without one.
std::string precision_text(const json& cell) {
  const json& p = cell["precision"];
  if (!p.is_object() || !p["target"].is_number()) return "-";
  const std::string hw =
      p["half_width"].is_number() ? "±" + percent(p["half_width"].get<double>()) : "";
  if (p["reached"] == true) return hw;
  return "no (" + (hw.empty() ? std::string("n < 6") : hw) + ")";
}

std::string status_text(const json& c) {
  std::string status = "ok";
  if (!c["failed"].empty()) {
    status.clear();
    for (auto it = c["failed"].begin(); it != c["failed"].end(); ++it)
      status += (status.empty() ? "" : ", ") + it.key() + " x" + std::to_string(it->get<int>());
  }
  if (!c["time"]["outliers"].empty()) status += " †";
  if (!c["memory"]["outliers"].empty()) status += " ‡";
  return status;
}

// The in-call median per event, "-" for programs and results without it.
std::string in_call_text(const json& c) {
  const json& ic = c.value("in_call", json());
  if (!ic.is_object() || !ic["median"].is_number()) return "-";
  return with_interval(ic, 1, "%.2f");
}

// The ratio the cell's ranking rests on: time, or in-call time (marked ◊).
std::string rank_ratio_text(const json& c, const std::string& baseline) {
  if (c.value("rank_metric", "time") != "in_call") return ratio_text(c, "time", baseline);
  if (c["allocator"] == baseline) return "baseline ◊";
  return ratio_text(c, "in_call", baseline) + " ◊";
}

std::string table_row(const json& c, const std::string& baseline) {
  const json& t = c["time"];
  const json& m = c["memory"];
  return "| " + c["workload"].get<std::string>() + " | " +
         std::to_string(c["threads"].get<uint32_t>()) + " | " + c["allocator"].get<std::string>() +
         " | " + std::to_string(c["n"].get<size_t>()) + " | " + time_text(t) + " | " + cv_text(t) +
         " | " + in_call_text(c) + " | " + rank_ratio_text(c, baseline) + " | " +
         with_interval(m, 1048576.0, "%.1f") + " | " + cv_text(m) + " | " +
         ratio_text(c, "memory", baseline) + " | " + precision_text(c) + " | " + status_text(c) +
         " |\n";
}

// The closing lines on the noise floor and the precision reached.
std::string floor_and_precision_lines(const json& summary) {
  std::string out;
  const json& nf = summary.value("noise_floor", json::object());
  const std::string baseline =
      summary.value("baseline", json()).is_string() ? summary["baseline"].get<std::string>() : "";
  if (nf.is_object() && nf["allocator"].is_string()) {
    auto reach = [](const json& v) {
      return v.is_number() ? "±" + percent(v.get<double>()) : std::string("-");
    };
    out += "\nNoise floor (" + nf["allocator"].get<std::string>() + " against " + baseline +
           ", an A/A comparison; median over " + std::to_string(nf["groups"].size()) +
           " group(s) of its 95 % interval's reach): time " + reach(nf["time"]) + ", memory " +
           reach(nf["memory"]) + ". A difference within a group's floor is 'no difference'.\n";
  } else if (!baseline.empty()) {
    out +=
        "\nNo noise floor: this run had no A/A allocator (--no-aa); verdicts rest on the "
        "intervals alone.\n";
  }
  const json& p = summary.value("precision", json::object());
  if (p.is_object() && p["target"].is_number()) {
    std::map<std::string, size_t> why;
    for (const auto& c : summary["cells"])
      if (c["precision"]["why_not"].is_string())
        ++why[c["precision"]["why_not"].get<std::string>()];
    out += "Precision: " + std::to_string(p["reached"].get<size_t>()) + " of " +
           std::to_string(p["cells"].get<size_t>()) + " cells reached ±" +
           percent(p["target"].get<double>()) + " (time median, 95 % interval)";
    std::string rest;
    for (const auto& [reason, count] : why)
      rest += (rest.empty() ? "" : "; ") + reason + " (" + std::to_string(count) + ")";
    out += rest.empty() ? ".\n" : "; the others: " + rest + ".\n";
  }
  return out;
}

}  // namespace

std::string markdown_summary(const json& summary) {
  const std::string baseline =
      summary.value("baseline", json()).is_string() ? summary["baseline"].get<std::string>() : "";
  const std::string base = baseline.empty() ? "baseline" : baseline;
  const json& p = summary.value("precision", json::object());
  const std::string target = p.is_object() && p["target"].is_number()
                                 ? "±" + percent(p["target"].get<double>())
                                 : "precision";
  std::string out =
      "| workload | threads | allocator | n | time median [95 % CI] (ns/event; s for programs) | "
      "CV | "
      "in-call ns/event [95 % CI] | time / " +
      base + " [95 % CI] | heap MiB median [95 % CI] | CV | heap / " + base + " [95 % CI] | " +
      target + " | status |\n" +
      "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
  bool any_in_call_rank = false;
  size_t too_few = 0, cells = 0;
  std::vector<std::string> other_warnings;
  for (const auto& c : summary.value("cells", json::array())) {
    ++cells;
    if (c.value("rank_metric", "time") == "in_call") any_in_call_rank = true;
    out += table_row(c, baseline);
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
      "repetitions; * marks [min, max] of fewer, with lower coverage (93.75 % at 5). Ratios: "
      "median / the baseline's median, 95 % bootstrap interval. † time outlier, ‡ memory "
      "outlier (MAD).\n";
  if (any_in_call_rank)
    out +=
        "◊ ranked by in-call time (the time inside allocator calls), not wall time: a threaded "
        "replay with more trace threads than this machine's cores, whose wall time measures thread "
        "hand-offs.\n";
  out += floor_and_precision_lines(summary);
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
