// Helpers shared by the importer tests: temporary input files and one-call import + check.
// Layer: workloads tests only (included by *_test.cc, never by the library).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <string_view>

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

}  // namespace allocmark::testing_util
