// Finishing a run directory (derived files, report) and repairing a torn results.jsonl tail.
// Layer: harness (parent side). Never loads an allocator; reads what the workers reported.
#include "harness/run/run_directory.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "harness/run/python_tools.h"
#include "harness/run/results_log.h"
#include "harness/run/run_summary.h"

namespace allocmark {

using nlohmann::json;

bool repair_results_tail(const std::string& path, std::string* note, std::string* error) {
  note->clear();
  std::ifstream in(path, std::ios::binary);
  if (!in) return true;  // nothing written yet: nothing to repair
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  in.close();
  const size_t last_newline = text.rfind('\n');
  const size_t keep = last_newline == std::string::npos ? 0 : last_newline + 1;
  if (keep == text.size()) return true;
  const std::string tail = text.substr(keep);
  const json parsed = json::parse(tail, nullptr, /*allow_exceptions=*/false);
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = path + ": cannot open to repair: " + strerror(errno);
    return false;
  }
  bool ok;
  if (!parsed.is_discarded() && parsed.is_object()) {
    // The whole object made it and only its newline did not: keep it.
    ok = lseek(fd, 0, SEEK_END) >= 0 && write(fd, "\n", 1) == 1;
    *note = path + ": last line lacked its newline; added";
  } else {
    std::ofstream torn(path + ".torn", std::ios::binary | std::ios::app);
    torn << tail << "\n";
    ok = ftruncate(fd, static_cast<off_t>(keep)) == 0;
    *note = path + ": dropped a torn last line (" + std::to_string(tail.size()) +
            " bytes, kept in " + path + ".torn); its cell runs again";
  }
  ok = ok && fsync(fd) == 0;
  if (!ok) *error = path + ": cannot repair: " + strerror(errno);
  close(fd);
  return ok;
}

int finish_run_directory(const std::string& dir, json meta, const FinishOptions& options) {
  std::string warning, error;
  const auto lines = load_results(dir + "/results.jsonl", &warning);
  if (!warning.empty()) std::fprintf(stderr, "allocmark: %s\n", warning.c_str());

  // The harness's own cost, from the null allocator's cells when it ran.
  std::vector<double> null_ns;
  for (const auto& l : lines)
    if (l.value("allocator", "") == "null" && l.value("status", "") == "ok")
      null_ns.push_back(l.value("ns_per_op", 0.0));
  if (!null_ns.empty()) {
    std::sort(null_ns.begin(), null_ns.end());
    meta["harness_cost"] = {{"ns_per_event_median", null_ns[null_ns.size() / 2]},
                            {"cells", null_ns.size()}};
  }
  // Versions and libraries as the workers reported them (the parent never loads an allocator).
  // In-house allocators are versioned with allocmark; a preloaded or system malloc names its
  // own version, and its path is the library that actually served malloc in the worker.
  if (!meta.contains("allocators") || !meta["allocators"].is_object())
    meta["allocators"] = json::object();
  for (const auto& l : lines) {
    const std::string a = l.value("allocator", "");
    if (!meta["allocators"].contains(a) || l.value("status", "") == "crashed") continue;
    json& entry = meta["allocators"][a];
    if (entry.value("kind", "") == "native") {
      entry["version"] = "allocmark " + meta.value("allocmark_version", std::string("unknown"));
    } else if (l.contains("allocator_version")) {
      entry["version"] = l["allocator_version"];
    }
    if (l.contains("malloc_provider") && entry.value("kind", "") == "preload") {
      entry["malloc_provider"] = l["malloc_provider"];
      if (!entry.contains("path") || entry["path"].is_null()) entry["path"] = l["malloc_provider"];
    }
  }
  for (auto& [name, entry] : meta["allocators"].items())
    if (!entry.contains("version")) entry["version"] = nullptr;  // no worker got far enough
  meta["interrupted"] = options.interrupted;
  if (options.interrupted) meta["finished"] = nullptr;

  const json summary = summarize_results(lines, summary_context(meta));
  bool ok = write_json_file(dir + "/meta.json", meta, &error) &&
            write_results_csv(dir + "/results.csv", lines, &error) &&
            write_gbench_json(dir + "/gbench.json", meta, lines, &error) &&
            write_json_file(dir + "/summary.json", summary, &error);
  if (!ok) std::fprintf(stderr, "allocmark: %s\n", error.c_str());
  if (!options.quiet) std::printf("\n%s\n", markdown_summary(summary).c_str());
  if (options.interrupted) return ok ? 0 : 1;
  if (options.report && !lines.empty()) {
    const int rc = run_plot_tool("report.py", {dir});
    if (rc != 0) {
      std::fprintf(stderr, "allocmark: report failed (exit %d); results are in %s\n", rc,
                   dir.c_str());
      return 1;
    }
    std::printf("report: %s/report.html\n", dir.c_str());
  } else {
    std::printf("results: %s\n", dir.c_str());
  }
  return ok ? 0 : 1;
}

}  // namespace allocmark
