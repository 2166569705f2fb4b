// What a run directory needs after its cells: a repaired results.jsonl tail on resume, and the
// derived files (meta.json completed, results.csv, gbench.json, summary.json, the report).
// Layer: harness (parent side). Shared by `allocmark run` and `allocmark merge`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace allocmark {

// A kill -9 in the middle of an append can leave a partial last line without its newline; the
// next append would glue a good line onto it and both would be lost. This cuts such a tail off
// (keeping the cut bytes in PATH.torn for the record) or adds the missing newline when the tail
// is a whole object. *note says what was done (empty when the file was fine). False with
// *error on I/O failure. Not thread-safe: call before any append to the same file.
bool repair_results_tail(const std::string& path, std::string* note, std::string* error);

struct FinishOptions {
  bool quiet = false;        // no Markdown summary on stdout
  bool report = true;        // draw DIR/report.html (skipped when interrupted or empty)
  bool interrupted = false;  // the run stopped early: meta says so, no report
};

// Reads DIR/results.jsonl, completes `meta` (harness_cost from the null allocator's cells,
// allocator versions and library paths as the workers reported them, finished/interrupted) and
// writes meta.json, results.csv, gbench.json and summary.json, prints the Markdown summary,
// then runs the report. Returns 0, or 1 when a file or the report could not be written (said on
// stderr in one line).
int finish_run_directory(const std::string& dir, nlohmann::json meta, const FinishOptions& options);

}  // namespace allocmark
