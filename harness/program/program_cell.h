// One repetition of a program cell: the real program run under one allocator, in its own process
// group, with the allocator preloaded into it and every child it starts; the child is never
// trusted. Layer: harness (program room; the parent side, it loads no allocator itself).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "workloads/program_spec.h"

namespace allocmark {

struct ProgramRun {
  const ProgramSpec* spec = nullptr;
  std::string dir;               // the program's work folder ({dir})
  std::string preload;           // the allocator's library (glibc's cells preload libc itself)
  std::vector<std::string> env;  // KEY=VALUE of the allocator's variant (--alloc-env, --sweep)
  bool is_glibc = false;         // a static program then counts as served: glibc is its malloc
  std::string witness_library;   // libamk_witness.so; "" = no check that the allocator loaded
  std::string witness_path;      // where the witness lines go (truncated first)
  std::string output_path;       // this repetition's stdout (the server's, for a service)
  std::string reference_output;  // glibc's stdout, when spec->check_output
  std::string reference_error;   // why there is no reference output, when there is none
  bool is_reference = false;     // this run makes the reference: its output is not checked
  double timeout_s = 600;
  uint64_t mem_limit_bytes = 0;     // RLIMIT_AS of the program, 0 = none
  double sample_interval_s = 0.01;  // RSS sampling; ~60 us of the parent's CPU per sample
};

// Runs the program once. Returns the result fields of results/result_fields.json that a program
// cell has: status (ok, failed, crashed, timeout, wrong_output, not_loaded, error), detail,
// wall_ns, user_ns, sys_ns, peak_rss_bytes, faults, switches, timeline, throughput, ...
// Thread-safety: one at a time (kill_current_program() addresses the one running).
nlohmann::json run_program(const ProgramRun& run);

// Kills the program (and a service's driver) running now: from a signal handler.
void kill_current_program() noexcept;

// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's choice); 0 when none.
int free_loopback_port();

}  // namespace allocmark
