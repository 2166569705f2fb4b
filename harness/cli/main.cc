// allocmark: the command line. Wires subcommands to the runner, the trace tools and the plot
// tools; holds no logic of its own. Layer: harness. Bad flags: one line, exit status 2.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "harness/run/allocator_registry.h"
#include "harness/cli/command_line.h"
#include "harness/run/layout.h"
#include "harness/run/merge.h"
#include "harness/run/summary_file.h"
#include "harness/run/system_info.h"
#include "harness/run/python_tools.h"
#include "harness/cli/record_command.h"
#include "harness/run/runner.h"
#include "harness/cli/trace_commands.h"
#include "workloads/generator.h"
#include "workloads/suite.h"

namespace allocmark {
namespace {

int list_command(const std::string& what) {
  if (what == "allocators") {
    std::printf("%-14s %-8s %-10s %s\n", "name", "kind", "available", "description");
    for (const auto& a : builtin_allocators()) {
      std::printf("%-14s %-8s %-10s %s%s\n", a.name.c_str(), a.kind.c_str(),
                  a.available ? "yes" : "no", a.description.c_str(),
                  a.available ? "" : (" (" + a.why_unavailable + ")").c_str());
    }
    return 0;
  }
  for (const auto& g : generators()) {
    std::printf("%-20s %s%s\n", g.name.c_str(), g.description.c_str(),
                g.multi_threaded ? " [threads]" : "");
    if (!g.follows.empty()) std::printf("%-20s   follows: %s\n", "", g.follows.c_str());
    for (const auto& p : g.params)
      std::printf("%-20s   %s=%s  %s\n", "", p.name.c_str(), p.default_value.c_str(),
                  p.help.c_str());
  }
  return 0;
}

// Builds the workload list of a run from --suite, --workloads and --trace.
bool plan_workloads(const std::string& suite, const std::vector<std::string>& names,
                    const std::vector<std::string>& traces, const std::vector<uint32_t>& threads,
                    uint64_t seed, std::vector<WorkloadSpec>* out) {
  if (!suite.empty()) {
    std::string error;
    const std::string path = find_suite_file(suite, &error);
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
      out->push_back(std::move(w));
    }
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
    w.args.seed = seed;
    w.threads = threads.empty() ? std::vector<uint32_t>{1} : threads;
    out->push_back(std::move(w));
  }
  for (const auto& path : traces) {
    WorkloadSpec w;
    w.name = std::filesystem::path(path).stem().string();
    w.trace_path = path;
    out->push_back(std::move(w));
  }
  return true;
}

int main_impl(int argc, char** argv) {
  set_suites_dir(builtin_suites_dir());  // beside the executable: nothing compiled in
  // `run --resume DIR` alone finishes the run as it was planned: DIR/meta.json's command.
  std::vector<std::string> words(argv, argv + argc), resumed;
  if (resume_words(words, &resumed)) words = std::move(resumed);
  std::vector<const char*> word_ptrs;
  for (const auto& w : words) word_ptrs.push_back(w.c_str());

  CLI::App app{"allocmark: benchmark and compare memory allocators"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");

  // run
  RunOptions run;
  std::string allocator_list, workload_list, suite, threads_list, mem_limit, resume_dir;
  std::vector<std::string> trace_files, alloc_options;
  auto* run_cmd = app.add_subcommand("run", "Run a benchmark matrix and write a report");
  run_cmd->add_option("--allocators", allocator_list,
                      "Comma-separated allocators (built-in names or NAME=/path/lib.so); "
                      "default: every available built-in");
  std::vector<std::string> allocator_flags;
  run_cmd->add_option("--allocator", allocator_flags,
                      "One more allocator: a built-in name or NAME=/path/lib.so, a malloc "
                      "replacement run by preloading it (repeatable)");
  run_cmd->add_option("--plugin", run.plugins,
                      "[NAME=]/path/plugin.so exporting allocmark_plugin_v1 "
                      "(include/allocmark/plugin.h); named after the plugin unless NAME= "
                      "(repeatable)");
  run_cmd->add_option("--workloads", workload_list, "Comma-separated generator names");
  run_cmd->add_option("--suite", suite, "Suite name (workloads/suites/NAME.toml) or TOML file");
  run_cmd->add_option("--trace", trace_files, "Trace file to replay (repeatable)");
  run_cmd->add_option("--threads", threads_list, "Thread counts to sweep, e.g. 1,2,4");
  // Our own validators: CLI11's read "Value abc not in range 0 to 1.8e308" (see command_line.h).
  auto whole = [](uint64_t min, uint64_t max) {
    return CLI::Validator(
        [=](std::string& s) { return expect_whole_number(s, min, max); },
        max == UINT64_MAX ? "" : std::to_string(min) + ".." + std::to_string(max));
  };
  auto one_of = [](std::vector<std::string> choices) {
    std::string names;
    for (const auto& c : choices) names += (names.empty() ? "" : "|") + c;
    return CLI::Validator([=](std::string& s) { return expect_one_of(s, choices); }, names);
  };
  run_cmd->add_option("--reps", run.reps, "Measured repetitions per cell")
      ->check(whole(1, 1000))
      ->type_name("N");
  run_cmd->add_option("--warmup", run.warmup, "Warm-up repetitions (not written)")
      ->check(whole(0, 100))
      ->type_name("N");
  run_cmd->add_option("--out", run.out_dir, "Run directory (default results/<timestamp>)");
  run_cmd->add_option("--resume", resume_dir, "Finish the run in DIR: only missing cells run");
  run_cmd->add_option("--timeout", run.timeout_s, "Seconds before a cell counts as hung")
      ->check(CLI::Validator(expect_seconds, ""))
      ->type_name("SECONDS");
  run_cmd->add_option("--mem-limit", mem_limit,
                      "Cap each worker's address space (RLIMIT_AS), e.g. 512M");
  run_cmd->add_option("--replay", run.mode, "serial or threads")
      ->check(one_of({"serial", "threads"}));
  run_cmd->add_option("--touch", run.touch, "Memory touching: none, first, pages, full")
      ->check(one_of({"none", "first", "pages", "full"}));
  run_cmd->add_option("--seed", run.seed, "Seed for generators and cell order")
      ->check(whole(0, UINT64_MAX))
      ->type_name("N");
  run_cmd->add_option("--alloc-option", alloc_options,
                      "NAME:key=value tunable of a native allocator or plugin (repeatable)");
  run_cmd->add_flag("--quiet", run.quiet, "No progress output");
  bool no_pin = false;
  run_cmd->add_flag("--no-pin", no_pin,
                    "Do not pin one-thread replays to a CPU (pinning is the default: it halves "
                    "run-to-run spread here)");
  run_cmd->add_flag("--check", run.check,
                    "Verify every returned block (alignment, no overlap, contents kept until "
                    "free); a bad block ends the cell as 'invalid'. Times are not comparable");
  bool no_report = false;
  run_cmd->add_flag("--no-report", no_report, "Do not draw the report at the end");
  run_cmd->add_option("--baseline", run.baseline,
                      "Allocator the ratios in summary.json are taken against (default glibc "
                      "when in the run, else the first)");
  bool no_aa = false;
  run_cmd->add_flag("--no-aa", no_aa,
                    "Do not run the baseline a second time as NAME-aa (the A/A comparison that "
                    "measures the noise floor)");
  run_cmd->add_option("--precision", run.precision,
                      "Repeat cells until the time median's 95 % interval is within +-P, e.g. 3% "
                      "or 0.03; off for exactly --reps (default " +
                          std::to_string(static_cast<int>(kDefaultPrecision * 100)) + "%)")
      ->transform(CLI::Validator(expect_precision, ""))
      ->type_name("P");
  run_cmd->add_option("--max-reps", run.max_reps,
                      "Repetitions a cell may reach for --precision (default " +
                          std::to_string(kDefaultMaxReps) + "; never fewer than --reps)")
      ->check(whole(1, 1000))
      ->type_name("N");
  run_cmd->add_option("--budget", run.budget_s,
                      "Seconds the whole run may take before no further precision repetition "
                      "starts (default " +
                          std::to_string(static_cast<int>(kDefaultBudgetSeconds)) + ")")
      ->check(CLI::Validator(expect_seconds, ""))
      ->type_name("SECONDS");
  std::string shard;
  run_cmd->add_option("--shard", shard,
                      "K/N: run only workloads whose index is K-1 modulo N (one machine of N)");

  // merge
  MergeOptions merge;
  auto* merge_cmd = app.add_subcommand("merge", "Join the run directories of --shard runs");
  merge_cmd->add_option("dirs", merge.inputs, "Shard run directories")->required();
  merge_cmd->add_option("-o,--out", merge.out_dir, "Merged run directory (must not hold a run)")
      ->required();
  merge_cmd->add_flag("--quiet", merge.quiet, "No summary table");
  bool merge_no_report = false;
  merge_cmd->add_flag("--no-report", merge_no_report, "Do not draw the report");

  // report / compare
  std::string report_dir, baseline;
  auto* report_cmd = app.add_subcommand("report", "Write DIR/report.html from a run");
  report_cmd->add_option("dir", report_dir, "Run directory")->required();
  report_cmd->add_option("--baseline", baseline, "Allocator to normalise to (default glibc)");
  bool summarize_quiet = false;
  auto* summarize_cmd = app.add_subcommand(
      "summarize", "Rewrite DIR/summary.json from its results (e.g. against another baseline)");
  summarize_cmd->add_option("dir", report_dir, "Run directory")->required();
  summarize_cmd->add_option("--baseline", baseline, "Allocator the ratios are taken against");
  summarize_cmd->add_flag("--quiet", summarize_quiet, "Do not print the Markdown table");
  // compare and baseline are plot tools: their own flags (plot/README.md) pass through as given.
  auto* compare_cmd = app.add_subcommand("compare", "Compare two runs cell by cell (see --help)");
  auto* baseline_cmd = app.add_subcommand(
      "baseline", "Named baselines for compare --against (save NAME DIR, list, show NAME)");
  for (auto* tool : {compare_cmd, baseline_cmd}) tool->prefix_command()->set_help_flag();
  const auto build = build_info();
  app.set_version_flag("--version", "allocmark " + build.value("allocmark_version", "?") +
                                        " (git " + build.value("git_revision", "unknown") + ")");

  // list
  std::string list_what;
  auto* list_cmd = app.add_subcommand("list", "List allocators or workloads");
  list_cmd->add_option("what", list_what, "allocators or workloads")
      ->required()
      ->check(CLI::IsMember({"allocators", "workloads"}));

  TraceCommands trace_cmds;
  trace_cmds.add_to(app);
  RecordCommand record_cmd;
  record_cmd.add_to(app);

  try {
    app.parse(static_cast<int>(word_ptrs.size()), word_ptrs.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ValidationError& e) {
    // "--flag: expected ..., got '...'": complete as it is.
    std::fprintf(stderr, "allocmark: %s\n", e.what());
    return 2;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "allocmark: %s (see allocmark --help)\n",
                 explain_parse_error(e.what()).c_str());
    return 2;
  }

  if (*list_cmd) return list_command(list_what);
  if (*summarize_cmd) return rewrite_summary(report_dir, baseline, summarize_quiet);
  if (*report_cmd) {
    // Another baseline: the statistics engine (C++) rewrites summary.json first; the report
    // only draws what it says.
    if (!baseline.empty()) {
      if (const int rc = rewrite_summary(report_dir, baseline, /*quiet=*/true); rc != 0) return rc;
    }
    std::vector<std::string> args{report_dir};
    if (!baseline.empty()) args.insert(args.end(), {"--baseline", baseline});
    return run_plot_tool("report.py", args);
  }
  if (*compare_cmd) return run_plot_tool("compare.py", compare_cmd->remaining());
  if (*baseline_cmd) return run_plot_tool("baseline.py", baseline_cmd->remaining());
  if (trace_cmds.selected()) return trace_cmds.run();
  if (record_cmd.selected()) return record_cmd.run();

  const std::string cmdline = shell_join(words);  // pastes back into a shell as these words
  if (*merge_cmd) {
    merge.report = !merge_no_report;
    merge.command_line = cmdline;
    return merge_runs(merge);
  }

  // run
  run.command_line = cmdline;
  run.report = !no_report;
  run.pin = !no_pin;
  run.aa = !no_aa;
  if (!resume_dir.empty()) {
    run.out_dir = resume_dir;
    run.resume = true;
  }
  auto split = [](const std::string& s) {
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
  };
  run.allocators = split(allocator_list);
  run.allocators.insert(run.allocators.end(), allocator_flags.begin(), allocator_flags.end());
  if (run.allocators.empty()) run.allocators = default_allocators();
  std::vector<uint32_t> threads;
  for (const auto& t : split(threads_list)) {
    char* end = nullptr;
    const unsigned long v = std::strtoul(t.c_str(), &end, 10);
    if (*end || v == 0 || v > 4096) {
      std::fprintf(stderr,
                   "allocmark: --threads: expected thread counts from 1 to 4096 separated by "
                   "commas (e.g. 1,2,4), got '%s'\n",
                   t.c_str());
      return 2;
    }
    threads.push_back(static_cast<uint32_t>(v));
  }
  if (!shard.empty()) {
    int k = 0, n = 0;
    char tail = 0;
    if (std::sscanf(shard.c_str(), "%d/%d%c", &k, &n, &tail) != 2 || n < 1 || k < 1 || k > n) {
      std::fprintf(stderr,
                   "allocmark: --shard: expected K/N with 1 <= K <= N (e.g. 2/4), got '%s'\n",
                   shard.c_str());
      return 2;
    }
    run.shard_index = k;
    run.shard_count = n;
  }
  if (!mem_limit.empty() && parse_size_text(mem_limit, &run.mem_limit_bytes) != nullptr) {
    std::fprintf(stderr, "allocmark: --mem-limit: expected a size like 512M or 2G, got '%s'\n",
                 mem_limit.c_str());
    return 2;
  }
  for (const auto& opt : alloc_options) {
    const size_t colon = opt.find(':');
    if (colon == std::string::npos || colon == 0 || opt.find('=', colon) == std::string::npos) {
      std::fprintf(stderr, "allocmark: --alloc-option: expected NAME:key=value, got '%s'\n",
                   opt.c_str());
      return 2;
    }
    std::string& text = run.alloc_options[opt.substr(0, colon)];
    text += (text.empty() ? "" : ",") + opt.substr(colon + 1);
  }
  const auto names = split(workload_list);
  if (suite.empty() && names.empty() && trace_files.empty()) suite = "standard";
  if (!plan_workloads(suite, names, trace_files, threads, run.seed, &run.workloads)) return 2;
  return run_benchmarks(std::move(run));
}

}  // namespace
}  // namespace allocmark

int main(int argc, char** argv) { return allocmark::main_impl(argc, argv); }
