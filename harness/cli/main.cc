// allocmark: the command line. Wires subcommands to the runner, the trace tools and the plot
// tools; holds no logic of its own. Layer: harness. Bad flags: one line, exit status 2.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "harness/cli/command_line.h"
#include "harness/cli/record_command.h"
#include "harness/cli/run_command.h"
#include "harness/cli/trace_commands.h"
#include "harness/run/allocator_registry.h"
#include "harness/run/layout.h"
#include "harness/run/merge.h"
#include "harness/run/python_tools.h"
#include "harness/run/summary_file.h"
#include "harness/run/system_info.h"
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

// The subcommands that work on run directories, and the plot tools whose words pass through.
struct DirectoryCommands {
  MergeOptions merge;
  bool merge_no_report = false, summarize_quiet = false;
  std::string report_dir, baseline, list_what;
  CLI::App *merge_cmd, *report_cmd, *summarize_cmd, *list_cmd;
  CLI::App *compare_cmd, *baseline_cmd, *validate_cmd;

  void add_to(CLI::App& app) {
    merge_cmd = app.add_subcommand("merge", "Join the run directories of --shard runs");
    merge_cmd->add_option("dirs", merge.inputs, "Shard run directories")->required();
    merge_cmd->add_option("-o,--out", merge.out_dir, "Merged run directory (must not hold a run)")
        ->required();
    merge_cmd->add_flag("--quiet", merge.quiet, "No summary table");
    merge_cmd->add_flag("--no-report", merge_no_report, "Do not draw the report");
    report_cmd = app.add_subcommand("report", "Write DIR/report.html from a run");
    report_cmd->add_option("dir", report_dir, "Run directory")->required();
    report_cmd->add_option("--baseline", baseline, "Allocator to normalise to (default glibc)");
    summarize_cmd = app.add_subcommand(
        "summarize", "Rewrite DIR/summary.json from its results (e.g. against another baseline)");
    summarize_cmd->add_option("dir", report_dir, "Run directory")->required();
    summarize_cmd->add_option("--baseline", baseline, "Allocator the ratios are taken against");
    summarize_cmd->add_flag("--quiet", summarize_quiet, "Do not print the Markdown table");
    // Plot tools: their own flags (plot/README.md) pass through as given.
    compare_cmd = app.add_subcommand("compare", "Compare two runs cell by cell (see --help)");
    baseline_cmd = app.add_subcommand(
        "baseline", "Named baselines for compare --against (save NAME DIR, list, show NAME)");
    validate_cmd = app.add_subcommand(
        "validate", "Hold replays against the real programs they came from (see --help)");
    for (auto* tool : {compare_cmd, baseline_cmd, validate_cmd})
      tool->prefix_command()->set_help_flag();
    list_cmd = app.add_subcommand("list", "List allocators or workloads");
    list_cmd->add_option("what", list_what, "allocators or workloads")
        ->required()
        ->check(CLI::IsMember({"allocators", "workloads"}));
  }

  // The exit status of the selected one; -1 when none of these was selected.
  int run(const std::string& command_line) {
    if (*list_cmd) return list_command(list_what);
    if (*summarize_cmd) return rewrite_summary(report_dir, baseline, summarize_quiet);
    if (*report_cmd) {
      // Another baseline: the statistics engine (C++) rewrites summary.json first; the report
      // only draws what it says.
      if (!baseline.empty()) {
        if (const int rc = rewrite_summary(report_dir, baseline, /*quiet=*/true); rc != 0)
          return rc;
      }
      std::vector<std::string> args{report_dir};
      if (!baseline.empty()) args.insert(args.end(), {"--baseline", baseline});
      return run_plot_tool("report.py", args);
    }
    if (*compare_cmd) return run_plot_tool("compare.py", compare_cmd->remaining());
    if (*baseline_cmd) return run_plot_tool("baseline.py", baseline_cmd->remaining());
    if (*validate_cmd) return run_plot_tool("validate.py", validate_cmd->remaining());
    if (*merge_cmd) {
      merge.report = !merge_no_report;
      merge.command_line = command_line;
      return merge_runs(merge);
    }
    return -1;
  }
};

// Parses the words; -1 when they parsed, else the exit status (help, version: 0; bad flags: one
// line and 2).
int parse(CLI::App& app, const std::vector<std::string>& words) {
  std::vector<const char*> word_ptrs;
  for (const auto& w : words) word_ptrs.push_back(w.c_str());
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
  return -1;
}

int main_impl(int argc, char** argv) {
  set_suites_dir(builtin_suites_dir());  // beside the executable: nothing compiled in
  // `run --resume DIR` alone finishes the run as it was planned: DIR/meta.json's command.
  std::vector<std::string> words(argv, argv + argc), resumed;
  if (resume_words(words, &resumed)) words = std::move(resumed);

  CLI::App app{"allocmark: benchmark and compare memory allocators"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  const auto build = build_info();
  app.set_version_flag("--version", "allocmark " + build.value("allocmark_version", "?") +
                                        " (git " + build.value("git_revision", "unknown") + ")");
  RunCommand run_cmd;
  run_cmd.add_to(app);
  DirectoryCommands dir_cmds;
  dir_cmds.add_to(app);
  TraceCommands trace_cmds;
  trace_cmds.add_to(app);
  RecordCommand record_cmd;
  record_cmd.add_to(app);

  if (const int rc = parse(app, words); rc >= 0) return rc;
  if (trace_cmds.selected()) return trace_cmds.run();
  if (record_cmd.selected()) return record_cmd.run();
  const std::string cmdline = shell_join(words);  // pastes back into a shell as these words
  if (const int rc = dir_cmds.run(cmdline); rc >= 0) return rc;
  return run_cmd.run(cmdline);
}

}  // namespace
}  // namespace allocmark

int main(int argc, char** argv) { return allocmark::main_impl(argc, argv); }
