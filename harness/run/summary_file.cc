// Rewriting a run's summary.json. Layer: harness (run).
#include "harness/run/summary_file.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "harness/run/results_log.h"
#include "harness/run/run_summary.h"

namespace allocmark {

int rewrite_summary(const std::string& dir, const std::string& baseline, bool quiet) {
  const std::string results = dir + "/results.jsonl";
  if (!std::filesystem::is_regular_file(results)) {
    std::fprintf(stderr, "allocmark: %s: no results.jsonl there, not a run directory\n",
                 dir.c_str());
    return 2;
  }
  nlohmann::json meta = nlohmann::json::object();
  if (std::ifstream f(dir + "/meta.json"); f) {
    meta = nlohmann::json::parse(f, nullptr, /*allow_exceptions=*/false);
    if (meta.is_discarded() || !meta.is_object()) {
      std::fprintf(stderr, "allocmark: %s/meta.json: not a JSON object\n", dir.c_str());
      return 2;
    }
  }
  std::string warning;
  const auto lines = load_results(results, &warning);
  if (!warning.empty()) std::fprintf(stderr, "allocmark: %s\n", warning.c_str());
  SummaryContext context = summary_context(meta);
  if (!baseline.empty()) context.baseline = baseline;
  const nlohmann::json summary = summarize_results(lines, context);
  std::string error;
  if (!write_json_file(dir + "/summary.json", summary, &error)) {
    std::fprintf(stderr, "allocmark: %s\n", error.c_str());
    return 1;
  }
  if (!quiet) std::printf("%s\n", markdown_summary(summary).c_str());
  return 0;
}

}  // namespace allocmark
