// The end-of-run verdict per cell: median, 95 % interval, CV and outliers of time per event and
// of peak memory, the ratio to the baseline allocator with its bootstrap interval and verdict,
// the A/A noise floor and the precision reached, as summary.json and as the Markdown table.
// Layer: harness. Everything that reads statistics of a run reads them from here.
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

// What the summary needs from the plan beyond the result lines (meta.json's plan and outcome).
struct SummaryContext {
  std::string baseline;  // ratios are taken against it; "" = glibc when present, else the first
  std::string aa;        // the A/A copy (e.g. "glibc-aa"); "" when the run had none
  std::string aa_of;     // the allocator that copy runs again ("" = the baseline); the noise floor
                         // compares these two, whatever baseline the ratios are taken against
  double precision = 0;  // target relative half-width of the time median's interval; 0 = none
  int max_reps = 0;      // repetition cap of the precision rounds (0: not recorded)
  bool budget_reached = false;  // the time budget stopped the precision rounds
  bool interrupted = false;
  unsigned cores = 0;  // meta.json machine.cores (0: unknown): threaded replays with more trace
                       // threads than this rank by in-call time
};

// From meta.json: plan.baseline, plan.aa, allocators[aa].aa_of, plan.precision, plan.max_reps,
// precision_rounds.budget_reached, interrupted, machine.cores. Missing fields (runs before schema
// 2) leave the defaults. Pure.
SummaryContext summary_context(const nlohmann::json& meta);

// Groups result lines into cells (workload, threads, allocator) and summarises each over its
// `ok` repetitions: {"schema_version": 2, "baseline", "policy", "methods", "noise_floor",
// "precision", "cells": [...], "warnings": [...]}. Per cell: "time" (ns_per_op) and "memory"
// (peak_rss_bytes - baseline_rss_bytes), each with n, median, ci_low/ci_high, cv, outliers and
// warnings; "in_call" (in_call_ns_per_op, the same statistics; null for programs); "rank_metric"
// ("time", or "in_call" for threaded replays with more trace threads than cores) and
// "rank_reason"; "vs_baseline" (ratio, bootstrap interval, verdict per metric, and the
// rank_metric the ranking rests on; null for the baseline itself or without ok repetitions on
// either side) and "precision". results/README.md documents
// every field. Pure; thread-safe. Cost: a 2000-resample bootstrap per metric and cell.
nlohmann::json summarize_results(const std::vector<nlohmann::json>& lines,
                                 const SummaryContext& context = {});

// The summary as a Markdown table (medians [95 % CI], CV, ratio to the baseline with its
// interval and verdict, precision) with closing lines on the noise floor, the precision reached
// and the warnings.
std::string markdown_summary(const nlohmann::json& summary);

}  // namespace allocmark
