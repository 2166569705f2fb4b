// `allocmark run` flags -> RunOptions (harness/cli/run_command.h). Layer: harness (cli).
#include "harness/cli/run_command.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "base/size_text.h"
#include "harness/cli/command_line.h"
#include "harness/run/allocator_registry.h"
#include "harness/run/program_targets.h"
#include "harness/run/python_tools.h"
#include "workloads/generator.h"
#include "workloads/suite.h"

namespace allocmark {
namespace {

// Our own validators: CLI11's read "Value abc not in range 0 to 1.8e308" (see command_line.h).
CLI::Validator whole(uint64_t min, uint64_t max) {
  return CLI::Validator([=](std::string& s) { return expect_whole_number(s, min, max); },
                        max == UINT64_MAX ? "" : std::to_string(min) + ".." + std::to_string(max));
}

CLI::Validator one_of(std::vector<std::string> choices) {
  std::string names;
  for (const auto& c : choices) names += (names.empty() ? "" : "|") + c;
  return CLI::Validator([=](std::string& s) { return expect_one_of(s, choices); }, names);
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size() && !s.empty()) {
    const size_t comma = s.find(',', start);
    const std::string item = s.substr(start, comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

void RunCommand::add_to(CLI::App& app) {
  cmd_ = app.add_subcommand("run", "Run a benchmark matrix and write a report");
  add_plan_options();
  add_measure_options();
  add_statistics_options();
}

// What runs: allocators and workloads.
void RunCommand::add_plan_options() {
  cmd_->add_option("--allocators", allocator_list_,
                   "Comma-separated allocators (built-in names or NAME=/path/lib.so); "
                   "default: every available built-in");
  cmd_->add_option("--allocator", allocator_flags_,
                   "One more allocator: a built-in name or NAME=/path/lib.so, a malloc "
                   "replacement run by preloading it (repeatable)");
  cmd_->add_option("--plugin", run_.plugins,
                   "[NAME=]/path/plugin.so exporting allocmark_plugin_v1 "
                   "(include/allocmark/plugin.h); named after the plugin unless NAME= "
                   "(repeatable)");
  cmd_->add_option("--workloads", workload_list_, "Comma-separated generator names");
  cmd_->add_option("--suite", suite_, "Suite name (workloads/suites/NAME.toml) or TOML file");
  cmd_->add_option("--trace", trace_files_, "Trace file to replay (repeatable)");
  cmd_->add_option("--program", program_flags_,
                   "NAME='COMMAND ARGS': a real program run under each allocator (preloaded), "
                   "split into words like a shell would but run without one (repeatable)");
  cmd_->add_option("--threads", threads_list_, "Thread counts to sweep, e.g. 1,2,4");
  cmd_->add_option("--alloc-option", alloc_options_,
                   "NAME:key=value tunable of a native allocator or plugin (repeatable)");
  cmd_->add_option("--alloc-env", alloc_env_flags_,
                   "NAME:KEY=VALUE set in that allocator's workers and programs only, e.g. "
                   "mimalloc:MIMALLOC_PURGE_DELAY=0 (repeatable)");
  cmd_->add_option("--sweep", sweep_flags_,
                   "NAME:KEY=V1,V2,...: one variant of NAME per value, named NAME-KEY-V, with "
                   "KEY=V in its environment (repeatable)");
  cmd_->add_option("--seed", run_.seed, "Seed for generators and cell order")
      ->check(whole(0, UINT64_MAX))
      ->type_name("N");
  cmd_->add_option("--shard", shard_,
                   "K/N: run only workloads whose index is K-1 modulo N (one machine of N)");
}

// How each cell runs and where results go.
void RunCommand::add_measure_options() {
  cmd_->add_option("--reps", run_.reps, "Measured repetitions per cell")
      ->check(whole(1, 1000))
      ->type_name("N");
  cmd_->add_option("--warmup", run_.warmup, "Warm-up repetitions (not written)")
      ->check(whole(0, 100))
      ->type_name("N");
  cmd_->add_option("--out", run_.out_dir, "Run directory (default results/<timestamp>)");
  cmd_->add_option("--resume", resume_dir_, "Finish the run in DIR: only missing cells run");
  cmd_->add_option("--timeout", run_.timeout_s, "Seconds before a cell counts as hung")
      ->check(CLI::Validator(expect_seconds, ""))
      ->type_name("SECONDS");
  cmd_->add_option("--mem-limit", mem_limit_,
                   "Cap each worker's address space (RLIMIT_AS), e.g. 512M");
  cmd_->add_option("--replay", run_.mode, "serial or threads")
      ->check(one_of({"serial", "threads"}));
  cmd_->add_option("--stream", run_.stream,
                   "Decode traces in chunks: auto (above 1 GiB decoded), always, never")
      ->check(one_of({"auto", "always", "never"}));
  cmd_->add_option("--touch", run_.touch, "Memory touching: none, first, pages, full")
      ->check(one_of({"none", "first", "pages", "full"}));
  cmd_->add_flag("--quiet", run_.quiet, "No progress output");
  cmd_->add_flag("--no-pin", no_pin_,
                 "Do not pin one-thread replays to a CPU (pinning is the default: it halves "
                 "run-to-run spread here)");
  cmd_->add_flag("--check", run_.check,
                 "Verify every returned block (alignment, no overlap, contents kept until "
                 "free); a bad block ends the cell as 'invalid'. Times are not comparable");
  cmd_->add_flag("--no-report", no_report_, "Do not draw the report at the end");
  cmd_->add_flag("--validate", validate_,
                 "Afterwards, hold each program's recorded and replayed trace against the "
                 "program cells just measured (allocmark validate --from-run DIR)");
}

// Baseline, noise floor and precision rounds.
void RunCommand::add_statistics_options() {
  cmd_->add_option("--baseline", run_.baseline,
                   "Allocator the ratios in summary.json are taken against (default glibc "
                   "when in the run, else the first)");
  cmd_->add_flag("--no-aa", no_aa_,
                 "Do not run the baseline a second time as NAME-aa (the A/A comparison that "
                 "measures the noise floor)");
  cmd_->add_option("--precision", run_.precision,
                   "Repeat cells until the time median's 95 % interval is within +-P, e.g. 3% "
                   "or 0.03; off for exactly --reps (default " +
                       std::to_string(static_cast<int>(kDefaultPrecision * 100)) + "%)")
      ->transform(CLI::Validator(expect_precision, ""))
      ->type_name("P");
  cmd_->add_option("--max-reps", run_.max_reps,
                   "Repetitions a cell may reach for --precision (default " +
                       std::to_string(kDefaultMaxReps) + "; never fewer than --reps)")
      ->check(whole(1, 1000))
      ->type_name("N");
  cmd_->add_option("--budget", run_.budget_s,
                   "Seconds the whole run may take before no further precision repetition "
                   "starts (default " +
                       std::to_string(static_cast<int>(kDefaultBudgetSeconds)) + ")")
      ->check(CLI::Validator(expect_seconds, ""))
      ->type_name("SECONDS");
}

bool RunCommand::read_threads(std::vector<uint32_t>* threads) const {
  for (const auto& t : split_commas(threads_list_)) {
    char* end = nullptr;
    const unsigned long v = std::strtoul(t.c_str(), &end, 10);
    if (*end || v == 0 || v > 4096) {
      std::fprintf(stderr,
                   "allocmark: --threads: expected thread counts from 1 to 4096 separated by "
                   "commas (e.g. 1,2,4), got '%s'\n",
                   t.c_str());
      return false;
    }
    threads->push_back(static_cast<uint32_t>(v));
  }
  return true;
}

bool RunCommand::read_shard_and_limits() {
  if (!shard_.empty()) {
    int k = 0, n = 0;
    char tail = 0;
    if (std::sscanf(shard_.c_str(), "%d/%d%c", &k, &n, &tail) != 2 || n < 1 || k < 1 || k > n) {
      std::fprintf(stderr,
                   "allocmark: --shard: expected K/N with 1 <= K <= N (e.g. 2/4), got '%s'\n",
                   shard_.c_str());
      return false;
    }
    run_.shard_index = k;
    run_.shard_count = n;
  }
  if (!mem_limit_.empty() && parse_size_text(mem_limit_, &run_.mem_limit_bytes) != nullptr) {
    std::fprintf(stderr, "allocmark: --mem-limit: expected a size like 512M or 2G, got '%s'\n",
                 mem_limit_.c_str());
    return false;
  }
  return true;
}

bool RunCommand::read_alloc_options() {
  for (const auto& opt : alloc_options_) {
    const size_t colon = opt.find(':');
    if (colon == std::string::npos || colon == 0 || opt.find('=', colon) == std::string::npos) {
      std::fprintf(stderr, "allocmark: --alloc-option: expected NAME:key=value, got '%s'\n",
                   opt.c_str());
      return false;
    }
    std::string& text = run_.alloc_options[opt.substr(0, colon)];
    text += (text.empty() ? "" : ",") + opt.substr(colon + 1);
  }
  return true;
}

// NAME:KEY=VALUE of --alloc-env and --sweep; false after one line naming the flag.
static bool split_env_flag(const std::string& flag, const std::string& text, std::string* name,
                           std::string* key, std::string* value) {
  const size_t colon = text.find(':');
  const size_t eq = text.find('=', colon == std::string::npos ? 0 : colon);
  bool ok = colon != std::string::npos && colon > 0 && eq != std::string::npos && eq > colon + 1;
  if (ok) {
    *name = text.substr(0, colon);
    *key = text.substr(colon + 1, eq - colon - 1);
    *value = text.substr(eq + 1);
    ok = (std::isalpha(static_cast<unsigned char>((*key)[0])) || (*key)[0] == '_') &&
         std::all_of(key->begin(), key->end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
         });
  }
  if (!ok)
    std::fprintf(stderr,
                 "allocmark: %s: expected NAME:KEY=VALUE with KEY an environment variable name "
                 "(letters, digits, '_'), got '%s'\n",
                 flag.c_str(), text.c_str());
  return ok;
}

bool RunCommand::read_variants() {
  std::string name, key, value;
  for (const auto& text : alloc_env_flags_) {
    if (!split_env_flag("--alloc-env", text, &name, &key, &value)) return false;
    run_.alloc_env[name].push_back(key + "=" + value);
  }
  for (const auto& text : sweep_flags_) {
    if (!split_env_flag("--sweep", text, &name, &key, &value)) return false;
    SweepSpec sweep{name, key, split_commas(value)};
    if (sweep.values.empty()) {
      std::fprintf(stderr, "allocmark: --sweep: '%s' gives no values (V1,V2,...)\n", text.c_str());
      return false;
    }
    run_.sweeps.push_back(std::move(sweep));
  }
  return true;
}

// --program NAME='COMMAND ARGS': the command runs in the current directory (relative paths in it
// mean what they meant to the user), without a shell.
bool RunCommand::read_programs() {
  std::error_code ec;
  const std::string here = std::filesystem::current_path(ec).string();
  for (const auto& flag : program_flags_) {
    const size_t eq = flag.find('=');
    ProgramSpec p;
    p.name = flag.substr(0, eq == std::string::npos ? 0 : eq);
    std::string error;
    if (eq == std::string::npos || !valid_allocator_name(p.name)) {
      std::fprintf(stderr,
                   "allocmark: --program: expected NAME='COMMAND ARGS' with NAME of letters, "
                   "digits, '-', '_' or '.', got '%s'\n",
                   flag.c_str());
      return false;
    }
    if (!split_command_words(flag.substr(eq + 1), &p.command, &error)) {
      std::fprintf(stderr, "allocmark: --program %s: %s\n", flag.c_str(), error.c_str());
      return false;
    }
    p.cwd = here;
    p.suite_dir = here;
    run_.programs.push_back(std::move(p));
  }
  return true;
}

// The workload list of the run from --suite, --workloads, --trace and --program (standard suite
// when none is given).
bool RunCommand::plan_workloads(const std::vector<uint32_t>& threads) {
  const auto names = split_commas(workload_list_);
  if (suite_.empty() && names.empty() && trace_files_.empty() && program_flags_.empty())
    suite_ = "standard";
  if (!suite_.empty()) {
    std::string error;
    const std::string path = find_suite_file(suite_, &error);
    Suite loaded;
    if (path.empty() || !load_suite(path, &loaded, &error)) {
      std::fprintf(stderr, "allocmark: --suite: %s\n", error.c_str());
      return false;
    }
    for (auto& e : loaded.workloads) {
      WorkloadSpec w;
      w.name = e.name;
      w.generator = find_generator(e.generator);
      w.args = e.args(1);
      w.threads = threads.empty() ? e.threads : threads;
      if (!w.generator->multi_threaded) w.threads = {1};
      run_.workloads.push_back(std::move(w));
    }
    run_.programs.insert(run_.programs.end(), loaded.programs.begin(), loaded.programs.end());
  }
  for (const auto& name : names) {
    const Generator* g = find_generator(name);
    if (!g) {
      std::string known;
      for (const auto& gen : generators()) known += (known.empty() ? "" : ", ") + gen.name;
      std::fprintf(stderr, "allocmark: --workloads: unknown workload '%s' (known: %s)\n",
                   name.c_str(), known.c_str());
      return false;
    }
    WorkloadSpec w;
    w.name = name;
    w.generator = g;
    w.args.seed = run_.seed;
    w.threads = threads.empty() ? std::vector<uint32_t>{1} : threads;
    run_.workloads.push_back(std::move(w));
  }
  for (const auto& path : trace_files_) {
    WorkloadSpec w;
    w.name = std::filesystem::path(path).stem().string();
    w.trace_path = path;
    run_.workloads.push_back(std::move(w));
  }
  return read_programs();
}

int RunCommand::run(const std::string& command_line) {
  run_.command_line = command_line;
  run_.report = !no_report_;
  run_.pin = !no_pin_;
  run_.aa = !no_aa_;
  if (!resume_dir_.empty()) {
    run_.out_dir = resume_dir_;
    run_.resume = true;
  }
  run_.allocators = split_commas(allocator_list_);
  run_.allocators.insert(run_.allocators.end(), allocator_flags_.begin(), allocator_flags_.end());
  if (run_.allocators.empty()) run_.allocators = default_allocators();
  std::vector<uint32_t> threads;
  if (!read_threads(&threads) || !read_shard_and_limits() || !read_alloc_options() ||
      !read_variants() || !plan_workloads(threads))
    return 2;
  if (validate_ && run_.programs.empty()) {
    std::fprintf(stderr,
                 "allocmark: --validate: the run has no programs (--program, or a suite "
                 "with [[program]] tables)\n");
    return 2;
  }
  if (run_.out_dir.empty()) run_.out_dir = default_run_directory();
  const std::string out_dir = run_.out_dir;
  const int rc = run_benchmarks(std::move(run_));
  if (rc != 0 || !validate_) return rc;
  return run_plot_tool("validate.py", {"--from-run", out_dir});
}

}  // namespace allocmark
