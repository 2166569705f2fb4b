// `allocmark record`: fork, exec the program with LD_PRELOAD=libamk_record.so, wait, convert the
// raw per-process files into traces. Layer: harness. Runs once per invocation; not hot.
#include "harness/cli/record_command.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/subprocess.h"
#include "harness/run/layout.h"
#include "workloads/recorder/raw_convert.h"
#include "workloads/recorder/raw_format.h"
#include "workloads/trace_file.h"

namespace allocmark {
namespace {

namespace fs = std::filesystem;

// FILE with ".PID" before its extension: out.amt -> out.1234.amt.
std::string child_trace_path(const std::string& out, uint32_t pid) {
  fs::path p(out);
  const std::string name = p.stem().string() + "." + std::to_string(pid) + p.extension().string();
  return (p.parent_path() / name).string();
}

// Removes the raw files and their directory (best effort: a leftover temp dir is harmless).
void remove_dir(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// Runs the program under the recording library and waits for it. Like system(): a Ctrl-C goes
// to the program, and we live to convert what it recorded.
ProcessResult launch(const std::vector<std::string>& command, const std::string& raw_dir,
                     bool no_children) {
  std::string preload = record_library();
  if (const char* old = std::getenv("LD_PRELOAD"); old && *old) preload += std::string(" ") + old;
  ProcessSpec spec;
  spec.argv = command;
  spec.set_env = {"LD_PRELOAD=" + preload, std::string(raw::kEnvDir) + "=" + raw_dir,
                  std::string(raw::kEnvNoChildren) + "=" + (no_children ? "1" : "0"),
                  std::string(raw::kEnvParentPid) + "=" + std::to_string(getpid())};
  spec.ignore_interrupts = true;
  std::fflush(nullptr);
  return run_process(spec);
}

// prefix_command() hands unknown options to the program even when they come before it
// (`record --bogus -o F ls` would run `ls --bogus`). CLI11 keeps no order, so the exact argv from
// /proc/self/cmdline is checked: every option before the program must be one of ours.
std::string unknown_option_before_program() {
  FILE* f = std::fopen("/proc/self/cmdline", "rb");
  if (!f) return "";
  std::vector<std::string> args(1);
  for (int c; (c = std::fgetc(f)) != EOF;) {
    if (c)
      args.back() += static_cast<char>(c);
    else
      args.emplace_back();
  }
  std::fclose(f);
  size_t i = 0;
  while (i < args.size() && args[i] != "record") ++i;
  for (++i; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--" || a.empty() || a[0] != '-') break;
    if (a == "-o" || a == "--out" || a == "--level")
      ++i;
    else if (a == "--no-children" || a.rfind("--out=", 0) == 0 || a.rfind("--level=", 0) == 0 ||
             (a.size() > 2 && a.rfind("-o", 0) == 0))
      continue;
    else
      return a;
  }
  return "";
}

}  // namespace

void RecordCommand::add_to(CLI::App& app) {
  cmd_ =
      app.add_subcommand("record", "Run a program with the recording library and write its trace");
  cmd_->add_option("-o,--out", out_,
                   "Trace file to write; a child process's goes to FILE with .PID before the "
                   "extension")
      ->required();
  cmd_->add_flag("--no-children", no_children_, "Record only the program, not processes it starts");
  cmd_->add_option("--level", level_, "zstd level of the trace (default 3)")
      ->check(CLI::Range(1, 22));
  // The first positional (or the first word after --) is the program; with prefix_command()
  // every argument after it, options included, is left for the program.
  cmd_->add_option("program", program_, "Program to run, then its arguments");
  cmd_->prefix_command();
}

bool RecordCommand::selected() const { return cmd_ && cmd_->parsed(); }

// The program and its arguments, or empty with the reason printed.
std::vector<std::string> RecordCommand::command_words() {
  if (const std::string bad = unknown_option_before_program(); !bad.empty()) {
    std::fprintf(stderr, "allocmark: record: unknown option '%s' (see allocmark record --help)\n",
                 bad.c_str());
    return {};
  }
  std::vector<std::string> command = cmd_->remaining();
  if (!command.empty() && command.front() == "--") command.erase(command.begin());
  if (!program_.empty()) command.insert(command.begin(), program_);
  if (command.empty()) {
    std::fprintf(stderr,
                 "allocmark: record: no command given (expected: allocmark record -o FILE [--] "
                 "CMD ARGS...)\n");
  }
  return command;
}

// A fresh directory for the raw files beside the output (they can be large, and that disk is
// known to be writable), or "" with the reason printed.
std::string RecordCommand::make_raw_dir() {
  const std::string lib = record_library();
  if (access(lib.c_str(), R_OK) != 0) {
    std::fprintf(stderr,
                 "allocmark: record: recording library '%s' is missing (build amk_record)\n",
                 lib.c_str());
    return "";
  }
  std::error_code ec;
  fs::path out_dir = fs::absolute(fs::path(out_), ec).parent_path();
  if (ec || !fs::is_directory(out_dir)) {
    std::fprintf(stderr, "allocmark: record: -o: directory '%s' does not exist\n",
                 out_dir.string().c_str());
    return "";
  }
  std::string tmpl = (out_dir / ".allocmark-record-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) {
    std::fprintf(stderr, "allocmark: record: cannot create a directory in '%s': %s\n",
                 out_dir.string().c_str(), std::strerror(errno));
    return "";
  }
  return tmpl;
}

// Converts one process's raw file into its trace (the program's is -o FILE, each child's beside
// it) and prints one line on what it holds. False with the reason printed.
bool RecordCommand::write_process_trace(const RawProcess& p, bool is_root,
                                        const std::vector<std::string>& command, int code) {
  const std::string path = is_root ? out_ : child_trace_path(out_, p.pid);
  Trace trace;
  RecordStats stats;
  std::string error;
  if (!p.path.empty() && !convert_raw_file(p.path, &trace, &stats, &error)) {
    std::fprintf(stderr, "allocmark: record: %s\n", error.c_str());
    return false;
  }
  nlohmann::json meta = {{"source", "record"},
                         {"command", command},
                         {"pid", p.pid},
                         {"ppid", p.ppid},
                         {"root", is_root},
                         {"forked", p.forked},
                         {"exit_code", code},
                         {"recorded_peak_live_bytes", stats.peak_live_bytes},
                         {"recorded_final_live_bytes", stats.final_live_bytes},
                         {"unknown_frees", stats.unknown_frees},
                         {"unknown_reallocs", stats.unknown_reallocs},
                         {"implicit_frees", stats.implicit_frees},
                         {"duplicate_records", stats.duplicates},
                         {"truncated_bytes", stats.truncated_bytes},
                         {"replaced_images", p.replaced.size()}};
  trace.metadata_json = meta.dump();
  TraceSummary summary;
  TraceError terr;
  if (!check_trace(trace, &summary, &terr) || !write_trace(trace, path, &terr, level_)) {
    if (terr.path.empty()) terr.path = path;
    std::fprintf(stderr, "allocmark: record: %s\n", terr.message().c_str());
    return false;
  }
  // Two independent computations of one fact: a difference is a converter bug.
  if (summary.peak_live_bytes != stats.peak_live_bytes) {
    std::fprintf(stderr,
                 "allocmark: record: %s: warning: peak live bytes %llu along the schedule, "
                 "%llu from the raw records\n",
                 path.c_str(), static_cast<unsigned long long>(summary.peak_live_bytes),
                 static_cast<unsigned long long>(stats.peak_live_bytes));
  }
  std::string notes;
  auto note = [&](uint64_t n, const char* what) {
    if (n) notes += ", " + std::to_string(n) + what;
  };
  note(stats.unknown_frees, " frees of unknown pointers skipped");
  note(stats.unknown_reallocs, " reallocs of unknown pointers made realloc(NULL)");
  note(stats.implicit_frees, " missed frees added");
  note(stats.truncated_bytes, " bytes of a cut-off block dropped");
  note(p.replaced.size(), " earlier image(s) replaced by exec");
  std::fprintf(stderr,
               "allocmark: record: %s: %llu events, %u threads, peak live %llu bytes (pid %u%s)\n",
               path.c_str(), static_cast<unsigned long long>(summary.events), summary.threads,
               static_cast<unsigned long long>(summary.peak_live_bytes), p.pid, notes.c_str());
  return true;
}

int RecordCommand::run() {
  const std::vector<std::string> command = command_words();
  if (command.empty()) return 2;
  const std::string raw_dir = make_raw_dir();
  if (raw_dir.empty()) return 2;

  const auto t0 = std::chrono::steady_clock::now();
  const ProcessResult l = launch(command, raw_dir, no_children_);
  const auto t1 = std::chrono::steady_clock::now();
  if (!l.error.empty()) {
    std::fprintf(stderr, "allocmark: record: %s\n", l.error.c_str());
    remove_dir(raw_dir);
    return l.exec_errno == ENOENT ? 127 : 126;
  }
  const int code = exit_code(l.wait_status);

  std::vector<RawProcess> processes;
  std::string error;
  if (!list_raw_processes(raw_dir, &processes, &error)) {
    std::fprintf(stderr, "allocmark: record: %s\n", error.c_str());
    remove_dir(raw_dir);
    return 2;
  }
  const uint32_t root = static_cast<uint32_t>(l.pid);
  bool root_seen = false;
  for (const auto& p : processes) root_seen |= p.pid == root;
  if (!root_seen) {
    // Keep the promise of an output file: an empty trace, and say why it is empty.
    std::fprintf(stderr,
                 "allocmark: record: %s recorded no allocations (a static or setuid program "
                 "ignores LD_PRELOAD)\n",
                 command[0].c_str());
    RawProcess empty;
    empty.pid = root;
    processes.insert(processes.begin(), empty);
  }
  int status = code;
  for (const auto& p : processes)
    if (!write_process_trace(p, p.pid == root, command, code)) status = 2;
  remove_dir(raw_dir);
  const auto t2 = std::chrono::steady_clock::now();
  std::fprintf(stderr,
               "allocmark: record: program ran %.3f s (cpu %.3f s), exit status %d; converted in "
               "%.3f s\n",
               std::chrono::duration<double>(t1 - t0).count(), l.cpu_s, code,
               std::chrono::duration<double>(t2 - t1).count());
  return status;
}

}  // namespace allocmark
