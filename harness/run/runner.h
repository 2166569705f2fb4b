// The parent side of `allocmark run`: plans the matrix of cells, runs each in its own worker,
// writes results as they come, and never trusts a child. Layer: harness.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "workloads/generator.h"

namespace allocmark {

// One workload of the plan: a generator with arguments (traced per thread count) or a file.
struct WorkloadSpec {
  std::string name;
  const Generator* generator = nullptr;  // null for a trace file
  GeneratorArgs args;
  std::vector<uint32_t> threads{1};  // generators: one trace per entry
  std::string trace_path;            // trace files
};

struct RunOptions {
  std::vector<std::string> allocators;
  std::vector<std::string> plugins;  // --plugin [NAME=]/path/plugin.so, loaded by workers only
  std::vector<WorkloadSpec> workloads;
  int reps = 5;
  int warmup = 1;
  std::string out_dir;
  bool resume = false;
  double timeout_s = 600;
  uint64_t mem_limit_bytes = 0;
  std::string mode = "threads";
  std::string touch = "pages";
  uint64_t seed = 1;
  bool quiet = false;
  bool pin = true;     // pin one-thread replays to a CPU (worker: harness/cpu_pinning.h)
  bool check = false;  // verify every block (alignment, overlap, contents); slows the replay
  bool report = true;
  std::map<std::string, std::string> alloc_options;  // allocator -> "k=v,k=v"
  std::string command_line;
  // --shard K/N: only workloads whose index in `workloads` is K-1 modulo N (0/0: all). Whole
  // workloads, so every comparison between allocators stays on one machine.
  int shard_index = 0;
  int shard_count = 0;
};

// Runs the plan. Returns the process exit status: 0 when every cell ran (failed cells are
// results, not errors), 2 for bad input found before any cell ran, 130 when interrupted.
int run_benchmarks(RunOptions options);

}  // namespace allocmark
