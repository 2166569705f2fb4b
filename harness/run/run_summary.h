// The end-of-run verdict per cell: median, 95 % interval, CV and outliers of time per event and
// of peak memory, with warnings, as summary.json and as the Markdown table. Layer: harness.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/run/statistics.h"

namespace allocmark {

// The thresholds in force (quoted into summary.json). Memory gets an absolute noise floor so a
// few pages of jitter on a tiny footprint (the null allocator) are not called noisy.
StatsPolicy time_stats_policy();
StatsPolicy memory_stats_policy();

// Groups result lines into cells (workload, threads, allocator) and summarises each over its
// `ok` repetitions: {"schema_version", "policy", "methods", "cells": [...], "warnings": [...]}.
// Per cell: "time" (ns_per_op) and "memory" (peak_rss_bytes - baseline_rss_bytes), each with
// n, median, ci_low/ci_high (null when n < 6), cv (null when undefined), outliers (rep indices)
// and warnings. Pure; thread-safe.
nlohmann::json summarize_results(const std::vector<nlohmann::json>& lines);

// The summary as a Markdown table (median [95 % CI], CV, markers) and a warnings list.
std::string markdown_summary(const nlohmann::json& summary);

}  // namespace allocmark
