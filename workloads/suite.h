// Suites: named sets of generated workloads and real programs read from TOML files
// (workloads/suites/*.toml). Layer: workloads. Loading is not thread-safe only in that it reads the
// environment once per call.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "workloads/generator.h"
#include "workloads/program_spec.h"

namespace allocmark {

// One [[workload]] of a suite: a generator with its parameters, run once per thread count.
struct SuiteWorkload {
  std::string name;       // unique label within the suite (defaults to the generator's name)
  std::string generator;  // a name from generators()
  std::map<std::string, std::string> params;  // as text, exactly as `--param K=V` would give it
  std::vector<uint32_t> threads;              // one cell per entry; never empty
  uint64_t seed = 42;
  uint32_t line = 0;  // where the [[workload]] starts, for messages about it later

  // The GeneratorArgs for one of `threads`.
  GeneratorArgs args(uint32_t thread_count) const {
    return GeneratorArgs{params, thread_count, seed};
  }
};

struct Suite {
  std::string path;  // the file it came from
  std::string name;  // `name` key, else the file's stem
  std::string description;
  std::vector<SuiteWorkload> workloads;
  std::vector<ProgramSpec> programs;  // [[program]] tables: real programs as workloads
};

// Parses and checks a suite (generators exist, parameter names are known, thread counts are
// valid for the generator, labels unique, no unknown keys). On failure returns false with one
// line "FILE:LINE:COLUMN: what was expected" in *error. parse_suite takes the text directly;
// `path` is used for messages and Suite::path.
bool load_suite(const std::string& path, Suite* suite, std::string* error);
bool parse_suite(std::string_view text, const std::string& path, Suite* suite, std::string* error);

// Resolves `allocmark run --suite NAME|FILE`: an existing file path is used as is; otherwise
// NAME (without ".toml") is looked up as <dir>/NAME.toml where dir is $ALLOCMARK_SUITES_DIR, else
// the folder set_suites_dir() gave. Returns "" with *error naming the places tried.
std::string find_suite_file(std::string_view name_or_path, std::string* error);

// The folder of the built-in suites. Nothing is compiled in: the command line finds it beside
// its executable (harness/run/layout.h) and sets it at start-up. Not thread-safe; call first.
void set_suites_dir(std::string dir);
// The folder find_suite_file searches: $ALLOCMARK_SUITES_DIR, else set_suites_dir()'s.
std::string suites_dir();

}  // namespace allocmark
