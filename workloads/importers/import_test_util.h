// Helpers shared by the importer tests: temporary input files and one-call import + check.
// Layer: workloads tests only (included by *_test.cc, never by the library).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "workloads/importer.h"
#include "workloads/trace_file.h"

namespace allocmark::testing_util {

// Writes `content` to a fresh file under the test temp dir and returns its path.
inline std::string temp_file(std::string_view name, std::string_view content) {
  static int counter = 0;
  const std::string path = ::testing::TempDir() + "/allocmark_" + std::to_string(::getpid()) + "_" +
                           std::to_string(counter++) + "_" + std::string(name);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  EXPECT_NE(f, nullptr) << path;
  if (f) {
    std::fwrite(content.data(), 1, content.size(), f);
    std::fclose(f);
  }
  return path;
}

struct ImportResult {
  bool ok = false;
  Trace trace;
  ImportStats stats;
  TraceSummary summary;
  std::string error;
};

// Imports `content` with importer `name`; on success also runs check_trace (which must pass).
inline ImportResult import_text(std::string_view name, std::string_view content,
                                std::string_view file_name = "in.txt") {
  ImportResult r;
  const Importer* imp = find_importer(name);
  EXPECT_NE(imp, nullptr) << name;
  if (!imp) return r;
  const std::string path = temp_file(file_name, content);
  r.ok = imp->import(path, &r.trace, &r.stats, &r.error);
  if (r.ok) {
    TraceError te;
    EXPECT_TRUE(check_trace(r.trace, &r.summary, &te)) << te.message();
  }
  std::remove(path.c_str());
  return r;
}

// The error with the temp directory part of the path removed: "in.txt:3: expected ...".
inline std::string short_error(const ImportResult& r) {
  const size_t slash = r.error.rfind('/', r.error.find(':'));
  std::string e = slash == std::string::npos ? r.error : r.error.substr(slash + 1);
  // Drop the "allocmark_PID_N_" prefix of temp_file names.
  if (e.starts_with("allocmark_")) {
    size_t u = e.find('_', 10);
    if (u != std::string::npos) u = e.find('_', u + 1);
    if (u != std::string::npos) e = e.substr(u + 1);
  }
  return e;
}

// The three repairs every address-keyed importer test provokes (a live pointer returned again,
// a free and a realloc of pointers never allocated: 2, 2 and 1 of them), checked in the stats,
// the warning lines and the trace metadata. Lines: where each kind was first seen.
inline void expect_standard_repairs(const ImportResult& r, uint32_t reused_line, uint32_t free_line,
                                    uint32_t realloc_line) {
  EXPECT_EQ(r.stats.count(Repair::kLivePointerReused), 2u);
  EXPECT_EQ(r.stats.first_line(Repair::kLivePointerReused), reused_line);
  EXPECT_EQ(r.stats.count(Repair::kUnknownFree), 2u);
  EXPECT_EQ(r.stats.first_line(Repair::kUnknownFree), free_line);
  EXPECT_EQ(r.stats.count(Repair::kUnknownRealloc), 1u);
  EXPECT_EQ(r.stats.first_line(Repair::kUnknownRealloc), realloc_line);
  const std::vector<std::string> warnings = repair_warnings(r.stats);
  ASSERT_EQ(warnings.size(), 3u);
  const std::string& file = r.stats.source;
  const std::string at = ": warning: ";
  EXPECT_EQ(warnings[0], file + ":" + std::to_string(reused_line) + at +
                             "allocation returned a pointer that was still live (the recording "
                             "lost its free): the old block was freed first (2 times, first here)");
  EXPECT_EQ(warnings[1], file + ":" + std::to_string(free_line) + at +
                             "free of a pointer never allocated (allocated before recording "
                             "began?): skipped (2 times, first here)");
  EXPECT_EQ(warnings[2], file + ":" + std::to_string(realloc_line) + at +
                             "realloc of a pointer never allocated (allocated before recording "
                             "began?): imported as realloc(NULL) (1 time, here)");
  const std::string repairs =
      "\"repairs\":{\"live_pointer_reused\":{\"count\":2,\"first_line\":" +
      std::to_string(reused_line) +
      "},\"unknown_free\":{\"count\":2,\"first_line\":" + std::to_string(free_line) +
      "},\"unknown_realloc\":{\"count\":1,\"first_line\":" + std::to_string(realloc_line) + "}}}";
  EXPECT_NE(r.trace.metadata_json.find(repairs), std::string::npos) << r.trace.metadata_json;
}

}  // namespace allocmark::testing_util
