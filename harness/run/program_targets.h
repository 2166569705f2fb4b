// The programs of a run, made ready before the first cell: work folders, setup commands, the
// glibc reference output, and which library each allocator preloads into a program. Layer:
// harness (run). The cells themselves run in harness/program/.
#pragma once

#include <string>
#include <vector>

#include "harness/run/allocator_registry.h"
#include "workloads/program_spec.h"

namespace allocmark {

struct ProgramTarget {
  const ProgramSpec* spec = nullptr;
  std::string dir;               // absolute: RUN/programs/NAME, the program's {dir}
  std::string reference_output;  // glibc's stdout when spec->check_output ("" = none)
  std::string reference_error;   // why there is none
};

// For each program: checks that its command (and driver) can be found, creates its work folder,
// runs its setup commands there (nothing preloaded) and, when its output is checked, runs it once
// under glibc for the reference. False after one line on stderr: a program that cannot start or
// whose setup fails stops the run before any cell. `specs` must outlive `out`.
bool prepare_programs(const std::vector<ProgramSpec>& specs, const std::string& run_dir,
                      double timeout_s, bool quiet, std::vector<ProgramTarget>* out);

// The teardown commands of every program; failures are warnings.
void teardown_programs(const std::vector<ProgramTarget>& programs, double timeout_s);

// The library preloaded into a program for allocator `a`: "" for glibc, the library of a
// preloaded allocator, the drop-in library of an in-house one (pool -> libamk_pool.so). False
// with *why_not when `a` has no malloc interface (a plugin, null).
bool program_preload(const AllocatorInfo& a, std::string* library, std::string* why_not);

// Splits a command line into words as a POSIX shell would (blanks separate; '...' literal;
// "..." with \ before " \ $ ` and newline; \ outside quotes escapes the next character), without
// expanding anything: no variables, globs or command substitution. False with *error on an
// unterminated quote or an empty line.
bool split_command_words(const std::string& text, std::vector<std::string>* words,
                         std::string* error);

}  // namespace allocmark
