// Runs one worker child and never trusts it: a crash, a hang, garbage output or a memory cap
// all become a status. Layer: harness (parent side).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace allocmark {

struct WorkerRequest {
  std::string executable;
  std::vector<std::string> args;
  std::vector<std::string> env;  // extra NAME=VALUE entries (LD_PRELOAD, ALLOCMARK_*)
  double timeout_s = 600;
  uint64_t mem_limit_bytes = 0;  // 0 = none; caps the address space (RLIMIT_AS)
};

struct WorkerOutcome {
  std::string status;       // ok / oom / invalid / error from the worker, or crashed / timeout
  std::string detail;       // why, when not ok
  std::string result_json;  // the worker's JSON object, empty if it wrote none
  std::string stderr_tail;  // last lines of the worker's stderr
  double elapsed_s = 0;
};

// Thread-safe: no shared state. Blocks until the child is gone (killed on timeout).
WorkerOutcome run_worker(const WorkerRequest& request);

// Kills the worker currently running (from a signal handler: async-signal-safe).
void kill_current_worker() noexcept;

}  // namespace allocmark
