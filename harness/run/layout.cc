// Finding allocmark's own files from the executable. Layer: harness (run).
#include "harness/run/layout.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <initializer_list>

namespace allocmark {
namespace {

namespace fs = std::filesystem;

// The first candidate that exists, else "".
std::string first_existing(std::initializer_list<std::string> candidates) {
  std::error_code ec;
  for (const std::string& c : candidates)
    if (!c.empty() && fs::exists(c, ec)) return fs::path(c).lexically_normal().string();
  return "";
}

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : "";
}

}  // namespace

std::string executable_dir() {
  static const std::string dir = [] {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    return ec ? std::string(".") : exe.parent_path().string();
  }();
  return dir;
}

std::string worker_path() {
  const std::string env = env_or_empty("ALLOCMARK_WORKER");
  return env.empty() ? executable_dir() + "/allocmark-worker" : env;
}

// One of allocmark's own shared libraries: installed under lib/allocmark, or where the build
// tree's `build_subdir` keeps it; "" when neither exists.
static std::string own_library(const std::string& file, const char* build_subdir) {
  const std::string bin = executable_dir();
  return first_existing({bin + "/../lib/allocmark/" + file,
                         bin + "/" ALLOCMARK_BUILD_FROM_BIN "/" + build_subdir + "/" + file});
}

std::string shim_library(const char* name) {
  return own_library(std::string("libamk_") + name + ".so", "allocators/shim");
}

std::string witness_library() { return own_library("libamk_witness.so", "harness/program"); }

std::string record_library() {
  const std::string env = env_or_empty("ALLOCMARK_RECORD_LIB");
  return env.empty() ? own_library("libamk_record.so", "workloads/recorder") : env;
}

std::string plot_dir() {
  const std::string env = env_or_empty("ALLOCMARK_PLOT_DIR");
  if (!env.empty()) return env;
  const std::string bin = executable_dir();
  return first_existing(
      {bin + "/../share/allocmark/plot", bin + "/" ALLOCMARK_SOURCE_FROM_BIN "/plot"});
}

std::string builtin_suites_dir() {
  const std::string env = env_or_empty("ALLOCMARK_SUITES_DIR");
  if (!env.empty()) return env;
  const std::string bin = executable_dir();
  return first_existing({bin + "/../share/allocmark/suites",
                         bin + "/" ALLOCMARK_SOURCE_FROM_BIN "/workloads/suites"});
}

}  // namespace allocmark
