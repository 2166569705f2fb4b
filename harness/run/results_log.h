// The run directory's files: results.jsonl appended and fsynced line by line, and the exports
// derived from it (results.csv, gbench.json; summary.json is run_summary.h's). Layer: harness.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace allocmark {

// Appends one line and fsyncs file and directory before returning: a kill -9 of the parent
// afterwards loses nothing already returned from here. False with *error on I/O failure.
bool append_result_line(const std::string& path, const nlohmann::json& line, std::string* error);

// Reads results.jsonl; a torn last line (a crash mid-write) is dropped with a note in *warning.
std::vector<nlohmann::json> load_results(const std::string& path, std::string* warning);

// Writes `value` to `path` atomically (temporary file + rename).
bool write_json_file(const std::string& path, const nlohmann::json& value, std::string* error);

bool write_results_csv(const std::string& path, const std::vector<nlohmann::json>& lines,
                       std::string* error);
// Google Benchmark's JSON schema: one iteration entry per repetition plus aggregates, named
// "<workload>/threads:<n>/alloc:<allocator>", readable by its tools/compare.py.
bool write_gbench_json(const std::string& path, const nlohmann::json& meta,
                       const std::vector<nlohmann::json>& lines, std::string* error);

}  // namespace allocmark
