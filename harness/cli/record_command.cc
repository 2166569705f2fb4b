// `allocmark record`: fork, exec the program with LD_PRELOAD=libamk_record.so, wait, convert the
// raw per-process files into traces. Layer: harness. Runs once per invocation; not hot.
#include "harness/cli/record_command.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

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

// Converts the raw files while the program writes them, on a thread of its own: the program
// keeps one core busy and the conversion, which took longer than the program itself when it ran
// afterwards (python3: 1.45 s after a 1.3 s run), uses another. What is left when the program
// exits is its last buffers, the encoding and the write. Files are found by listing the
// directory, so children and exec'd images are converted alongside too.
class BackgroundConversion {
 public:
  explicit BackgroundConversion(std::string dir) : dir_(std::move(dir)) {
    thread_ = std::thread([this] { loop(); });
  }
  ~BackgroundConversion() { stop(); }

  // Ends the background work (the writers are gone); the final pass is the caller's.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }
  // The converter of `path` (made now if the file was never seen); after stop() only.
  RawStreamConverter& converter(const std::string& path) {
    auto& c = files_[path];
    if (!c) c = std::make_unique<RawStreamConverter>(path);
    return *c;
  }
  void drop(const std::string& path) { files_.erase(path); }
  uint64_t records_before_stop() const { return records_at_stop_; }

 private:
  // Polls every millisecond while there is nothing new: a full 1 MiB block takes the recorded
  // program several milliseconds to fill, and an idle poll is a directory listing and an fstat.
  void loop() {
    // Below the program (Linux nice is per thread): the conversion should take an idle core, not
    // the program's. At the same priority, on a loaded machine where the two share one
    // scheduler group's time, the program's run grew from 3.3 s to 6.7 s of wall time.
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      lock.unlock();
      const bool progress = poll();
      lock.lock();
      if (!progress) wake_.wait_for(lock, std::chrono::milliseconds(1));
    }
    for (const auto& [path, c] : files_) records_at_stop_ += c->records();
  }

  // One pass over the directory; true if any record was converted. A file that fails keeps its
  // error (advance() is sticky) and reports it in the final pass.
  bool poll() {
    std::error_code ec;
    bool progress = false;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      if (entry.path().extension() != ".raw") continue;
      RawStreamConverter& c = converter(entry.path().string());
      const uint64_t before = c.records();
      std::string error;
      c.advance(false, &error);
      progress |= c.records() != before;
    }
    return progress;
  }

  std::string dir_;
  std::map<std::string, std::unique_ptr<RawStreamConverter>> files_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  uint64_t records_at_stop_ = 0;
  std::thread thread_;
};

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
                                        const std::vector<std::string>& command, int code,
                                        RawStreamConverter* converter) {
  const std::string path = is_root ? out_ : child_trace_path(out_, p.pid);
  Trace trace;
  RecordStats stats;
  std::string error;
  if (converter) {
    if (!converter->advance(true, &error)) {
      std::fprintf(stderr, "allocmark: record: %s\n", error.c_str());
      return false;
    }
    converter->finish(&trace, &stats);
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
  // No check_trace here: TraceBuilder refused every inconsistent event as it was added, and a
  // second walk cost 0.17 s of the 0.3 s left after a 7 M-event python3 run. Its independent
  // peak is compared with the converter's by the recorder's tests (and by `trace info` on the
  // file, which reads the schedule).
  TraceError terr;
  if (!write_trace(trace, path, &terr, level_)) {
    if (terr.path.empty()) terr.path = path;
    std::fprintf(stderr, "allocmark: record: %s\n", terr.message().c_str());
    return false;
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
               path.c_str(), static_cast<unsigned long long>(trace.event_count()),
               static_cast<unsigned>(trace.threads.size()),
               static_cast<unsigned long long>(stats.peak_live_bytes), p.pid, notes.c_str());
  return true;
}

int RecordCommand::run() {
  const std::vector<std::string> command = command_words();
  if (command.empty()) return 2;
  const std::string raw_dir = make_raw_dir();
  if (raw_dir.empty()) return 2;

  const auto t0 = std::chrono::steady_clock::now();
  BackgroundConversion background(raw_dir);
  const ProcessResult l = launch(command, raw_dir, no_children_);
  const auto t1 = std::chrono::steady_clock::now();
  background.stop();
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
  // Images replaced by an exec are not converted: their partial work is dropped first.
  for (const auto& p : processes)
    for (const auto& old : p.replaced) background.drop(old);
  int status = code;
  uint64_t records = 0;
  for (const auto& p : processes) {
    RawStreamConverter* c = p.path.empty() ? nullptr : &background.converter(p.path);
    if (!write_process_trace(p, p.pid == root, command, code, c)) status = 2;
    if (c) records += c->records();
    if (c) background.drop(p.path);  // one process's trace in memory at a time from here
  }
  remove_dir(raw_dir);
  const auto t2 = std::chrono::steady_clock::now();
  const double share = records ? 100.0 * background.records_before_stop() / records : 100.0;
  std::fprintf(stderr,
               "allocmark: record: program ran %.3f s (cpu %.3f s), exit status %d; converted in "
               "%.3f s after it (%.0f %% of the records while it ran)\n",
               std::chrono::duration<double>(t1 - t0).count(), l.cpu_s, code,
               std::chrono::duration<double>(t2 - t1).count(), std::min(share, 100.0));
  return status;
}

}  // namespace allocmark
