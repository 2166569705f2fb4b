// `allocmark merge DIR... -o DIR`: joins the run directories of one sharded plan (`run --shard
// K/N` on several machines) into one run directory with one report. Layer: harness (parent).
#pragma once

#include <string>
#include <vector>

namespace allocmark {

struct MergeOptions {
  std::vector<std::string> inputs;  // shard run directories
  std::string out_dir;              // must not hold a run yet
  bool quiet = false;
  bool report = true;
  std::string command_line;  // of the merge itself, recorded in meta.json
};

// Refuses (one line on stderr, exit status 2) when an input is not a run directory, when the
// inputs do not come from the same plan (allocators, reps, warm-up, seed, replay mode, touch,
// timeout, memory limit, shard count and the command line apart from --shard/--out/--resume),
// when two inputs hold the same cell, or when the output already holds a run. Otherwise writes
// the merged results.jsonl and meta.json (meta lists every shard with its machine and times),
// then finishes the directory like a run (results.csv, gbench.json, summary.json, report) and
// returns its status. Missing shards of K/N are allowed with a warning and recorded.
int merge_runs(const MergeOptions& options);

}  // namespace allocmark
