// The parent side of `allocmark run`: plans the matrix of cells, runs each in its own worker,
// writes results as they come, and never trusts a child. Layer: harness.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "workloads/generator.h"
#include "workloads/program_spec.h"

namespace allocmark {

// One workload of the plan: a generator with arguments (traced per thread count) or a file.
struct WorkloadSpec {
  std::string name;
  const Generator* generator = nullptr;  // null for a trace file
  GeneratorArgs args;
  std::vector<uint32_t> threads{1};  // generators: one trace per entry
  std::string trace_path;            // trace files
};

// Defaults of the precision rounds, chosen so that the default `./allocmark run` (standard suite,
// every allocator, 2 cores) ends within 5 minutes including its first build: README "Precision".
inline constexpr double kDefaultPrecision = 0.05;
inline constexpr int kDefaultMaxReps = 12;
inline constexpr double kDefaultBudgetSeconds = 110;

// --sweep NAME:KEY=V1,V2,...: one variant of NAME per value, KEY=V in its environment.
struct SweepSpec {
  std::string allocator, key;
  std::vector<std::string> values;
};

struct RunOptions {
  std::vector<std::string> allocators;
  std::vector<std::string> plugins;  // --plugin [NAME=]/path/plugin.so, loaded by workers only
  std::vector<WorkloadSpec> workloads;
  std::vector<ProgramSpec> programs;  // real programs (--program, [[program]]): program cells
  int reps = 5;
  int warmup = 1;
  std::string out_dir;
  bool resume = false;
  double timeout_s = 600;
  uint64_t mem_limit_bytes = 0;
  std::string mode = "threads";
  std::string touch = "pages";
  // Decode the trace whole ("never"), in chunks during a serial replay ("always"), or in chunks
  // when it would take more than 1 GiB decoded ("auto"): harness/worker/stream_replay.h.
  std::string stream = "auto";
  uint64_t seed = 1;
  bool quiet = false;
  bool pin = true;     // pin one-thread replays to a CPU (worker: harness/cpu_pinning.h)
  bool check = false;  // verify every block (alignment, overlap, contents); slows the replay
  bool report = true;
  std::map<std::string, std::string> alloc_options;           // allocator -> "k=v,k=v"
  std::map<std::string, std::vector<std::string>> alloc_env;  // allocator -> KEY=VALUE, ...
  std::vector<SweepSpec> sweeps;
  std::string command_line;
  // --shard K/N: only workloads whose index in `workloads` is K-1 modulo N (0/0: all). Whole
  // workloads, so every comparison between allocators stays on one machine.
  int shard_index = 0;
  int shard_count = 0;
  // Ratios in summary.json are taken against this allocator ("" = glibc when in the run, else
  // the first). With `aa`, it runs a second time as "<baseline>-aa", an A/A comparison whose
  // spread is the run's noise floor.
  std::string baseline;
  bool aa = true;
  // After the --reps rounds, further rounds (only for cells not yet there) until each cell's
  // time median has a 95 % interval within +-precision (0: no rounds), a cell has max_reps
  // lines, or the run has taken budget_s seconds (defaults: kDefault* above).
  double precision = kDefaultPrecision;
  int max_reps = kDefaultMaxReps;
  double budget_s = kDefaultBudgetSeconds;
};

// results/<timestamp> of the current directory: where a run goes without --out.
std::string default_run_directory();

// Runs the plan. Returns the process exit status: 0 when every cell ran (failed cells are
// results, not errors), 2 for bad input found before any cell ran, 130 when interrupted.
int run_benchmarks(RunOptions options);

}  // namespace allocmark
