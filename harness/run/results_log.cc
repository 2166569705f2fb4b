// Writers of the run directory's result files. Layer: harness.
#include "harness/run/results_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "base/atomic_file.h"
#include "harness/run/result_schema.h"

namespace allocmark {
namespace {

// The run directory's exports are replaced whole (base/atomic_file.h); *error is one line.
bool replace_file(const std::string& path, const std::string& data, std::string* error) {
  FileWriteError e;
  if (write_file_atomically(path, {data}, &e)) return true;
  *error = path +
           (std::string_view(e.step) == "rename" ? ": cannot rename: " : ": cannot write: ") +
           strerror(e.code);
  return false;
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string cell_name(const nlohmann::json& l) {
  return l.value("workload", "?") + "/threads:" + std::to_string(l.value("threads", 0)) +
         "/alloc:" + l.value("allocator", "?");
}

}  // namespace

bool append_result_line(const std::string& path, const nlohmann::json& line, std::string* error) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = path + ": cannot open: " + strerror(errno);
    return false;
  }
  const bool ok = write_all(fd, line.dump() + "\n") && fsync(fd) == 0;
  if (!ok) *error = path + ": cannot append: " + strerror(errno);
  close(fd);
  fsync_parent_dir(path);
  return ok;
}

std::vector<nlohmann::json> load_results(const std::string& path, std::string* warning) {
  std::vector<nlohmann::json> lines;
  std::ifstream f(path);
  std::string text;
  size_t number = 0;
  while (std::getline(f, text)) {
    ++number;
    if (text.empty()) continue;
    auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      if (warning) *warning = path + ":" + std::to_string(number) + ": unreadable line skipped";
      continue;
    }
    if (const std::string why = check_result_line(j); !why.empty()) {
      if (warning) *warning = path + ":" + std::to_string(number) + ": " + why + "; line skipped";
      continue;
    }
    lines.push_back(std::move(j));
  }
  return lines;
}

bool write_json_file(const std::string& path, const nlohmann::json& value, std::string* error) {
  return replace_file(path, value.dump(2) + "\n", error);
}

bool write_results_csv(const std::string& path, const std::vector<nlohmann::json>& lines,
                       std::string* error) {
  // Columns: every scalar field seen, in first-seen order (objects like latency are flattened
  // to latency_<op>_<pct>; the timeline stays in the JSON only).
  std::vector<std::string> columns;
  std::set<std::string> seen;
  std::vector<std::map<std::string, std::string>> rows;
  auto cell_text = [](const nlohmann::json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return std::string();
    return v.dump();
  };
  for (const auto& l : lines) {
    std::map<std::string, std::string> row;
    auto add = [&](const std::string& k, const nlohmann::json& v) {
      if (seen.insert(k).second) columns.push_back(k);
      row[k] = cell_text(v);
    };
    for (auto it = l.begin(); it != l.end(); ++it) {
      if (it.key() == "timeline" || it.key() == "options") continue;
      if (it.key() == "latency" && it->is_object()) {
        for (auto op = it->begin(); op != it->end(); ++op)
          for (auto p = op->begin(); p != op->end(); ++p)
            add("latency_" + op.key() + "_" + p.key(), *p);
        continue;
      }
      add(it.key(), *it);
    }
    rows.push_back(std::move(row));
  }
  auto quote = [](const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += (c == '"') ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  std::string out;
  for (size_t i = 0; i < columns.size(); ++i) out += (i ? "," : "") + quote(columns[i]);
  out += "\n";
  for (const auto& row : rows) {
    for (size_t i = 0; i < columns.size(); ++i) {
      auto it = row.find(columns[i]);
      out += (i ? "," : "") + (it == row.end() ? std::string() : quote(it->second));
    }
    out += "\n";
  }
  return replace_file(path, out, error);
}

bool write_gbench_json(const std::string& path, const nlohmann::json& meta,
                       const std::vector<nlohmann::json>& lines, std::string* error) {
  const auto& machine = meta.value("machine", nlohmann::json::object());
  nlohmann::json doc;
  doc["context"] = {
      {"date", meta.value("started", "")},
      {"host_name", machine.value("hostname", "")},
      {"executable", "allocmark"},
      {"num_cpus", machine.value("cores", 0)},
      {"mhz_per_cpu", 0},
      {"cpu_scaling_enabled", false},
      {"caches", nlohmann::json::array()},
      {"library_build_type", "release"},
  };
  nlohmann::json benchmarks = nlohmann::json::array();
  std::map<std::string, std::vector<const nlohmann::json*>> cells;
  std::vector<std::string> order;
  for (const auto& l : lines) {
    if (l.value("status", "") != "ok" || !l.contains("wall_ns")) continue;
    auto [it, inserted] = cells.try_emplace(cell_name(l));
    if (inserted) order.push_back(it->first);
    it->second.push_back(&l);
  }
  int family = 0;
  for (const auto& name : order) {
    const auto& reps = cells[name];
    std::vector<double> times;
    for (size_t i = 0; i < reps.size(); ++i) {
      const auto& l = *reps[i];
      const double ns = line_time(l);  // per event for a replay, the whole run for a program
      const double cpu_ns = static_cast<double>(l.value("user_ns", 0) + l.value("sys_ns", 0)) /
                            std::max<double>(1.0, static_cast<double>(l.value("events", 1)));
      times.push_back(ns);
      benchmarks.push_back({{"name", name},
                            {"family_index", family},
                            {"per_family_instance_index", 0},
                            {"run_name", name},
                            {"run_type", "iteration"},
                            {"repetitions", reps.size()},
                            {"repetition_index", i},
                            {"threads", l.value("threads", 1)},
                            {"iterations", l.value("events", 1)},
                            {"real_time", ns},
                            {"cpu_time", cpu_ns},
                            {"time_unit", "ns"},
                            {"peak_rss_bytes", l.value("peak_rss_bytes", 0)}});
    }
    const double med = median(times);
    double mean = 0;
    for (double t : times) mean += t;
    mean /= static_cast<double>(times.size());
    double var = 0;
    for (double t : times) var += (t - mean) * (t - mean);
    const double sd = times.size() > 1 ? std::sqrt(var / static_cast<double>(times.size() - 1)) : 0;
    for (auto [agg, value] :
         {std::pair<const char*, double>{"mean", mean}, {"median", med}, {"stddev", sd}}) {
      benchmarks.push_back({{"name", name + "_" + agg},
                            {"family_index", family},
                            {"per_family_instance_index", 0},
                            {"run_name", name},
                            {"run_type", "aggregate"},
                            {"repetitions", reps.size()},
                            {"threads", reps[0]->value("threads", 1)},
                            {"aggregate_name", agg},
                            {"aggregate_unit", "time"},
                            {"iterations", reps.size()},
                            {"real_time", value},
                            {"cpu_time", value},
                            {"time_unit", "ns"}});
    }
    ++family;
  }
  doc["benchmarks"] = benchmarks;
  return replace_file(path, doc.dump(2) + "\n", error);
}

}  // namespace allocmark
