// `allocmark summarize DIR`: summary.json rewritten from a run directory's results.jsonl and
// meta.json, optionally against another baseline. The report and the plot tests use it, so the
// C++ statistics engine (run_summary.h) stays the only one. Layer: harness (run).
#pragma once

#include <string>

namespace allocmark {

// Rewrites DIR/summary.json (atomically) and, unless quiet, prints the Markdown table.
// baseline: "" keeps the run's own (meta.json plan.baseline). Returns 0, or 2 with one line on
// stderr when DIR is not a run directory. Not thread-safe on the same DIR.
int rewrite_summary(const std::string& dir, const std::string& baseline, bool quiet);

}  // namespace allocmark
