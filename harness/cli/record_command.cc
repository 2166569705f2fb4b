// `allocmark record`: fork, exec the program with LD_PRELOAD=libamk_record.so and, while it runs,
// convert the raw per-process files into .amt traces written as they go; at its exit, the last
// records, then each trace sealed and moved into place. Layer: harness. Once per invocation.
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
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/atomic_file.h"
#include "base/subprocess.h"
#include "harness/run/layout.h"
#include "workloads/recorder/raw_convert.h"
#include "workloads/recorder/raw_format.h"
#include "workloads/trace_file.h"
#include "workloads/trace_stream.h"

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

// Writes past RLIMIT_FSIZE raise SIGXFSZ, whose default action would kill us with the trace
// half written: blocked in the threads that write (never in the one that starts the program,
// whose mask the program would inherit), a failed write is an error like a full disk.
void block_file_size_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGXFSZ);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// The trace's metadata (provenance). TraceWriter writes it first, before the events, but the
// outcome (exit status, the conversion's counts, whether this process is the program itself,
// an exec'd image's fork origin) is known only at the end: the writer is opened with the
// metadata so far, padded with spaces to the longest the final text can be, and its finish()
// writes the final text over it (JSON allows the trailing spaces).
struct Outcome {
  bool root = false;
  bool forked = false;
  int code = 0;
  RecordStats stats;
  uint64_t replaced = 0;
};

std::string metadata(const std::vector<std::string>& command, uint32_t pid, uint32_t ppid,
                     const Outcome& o) {
  const RecordStats& s = o.stats;
  return nlohmann::json{{"source", "record"},
                        {"command", command},
                        {"pid", pid},
                        {"ppid", ppid},
                        {"root", o.root},
                        {"forked", o.forked},
                        {"exit_code", o.code},
                        {"recorded_peak_live_bytes", s.peak_live_bytes},
                        {"recorded_final_live_bytes", s.final_live_bytes},
                        {"unknown_frees", s.unknown_frees},
                        {"unknown_reallocs", s.unknown_reallocs},
                        {"implicit_frees", s.implicit_frees},
                        {"duplicate_records", s.duplicates},
                        {"truncated_bytes", s.truncated_bytes},
                        {"replaced_images", o.replaced}}
      .dump();
}

// Bytes reserved for the metadata: every field but the command at its widest.
size_t metadata_reserve(const std::vector<std::string>& command) {
  Outcome widest;
  widest.code = INT_MIN;
  widest.replaced = UINT64_MAX;
  RecordStats& s = widest.stats;
  s.peak_live_bytes = s.final_live_bytes = s.unknown_frees = s.unknown_reallocs = UINT64_MAX;
  s.implicit_frees = s.duplicates = s.truncated_bytes = UINT64_MAX;
  return metadata(command, UINT32_MAX, UINT32_MAX, widest).size();
}

// One raw file's conversion: its events go to a trace beside it in the raw directory as they
// are converted; at the end the file is sealed and moved to its place.
struct Conversion {
  std::unique_ptr<TraceWriter> writer;
  std::unique_ptr<RawStreamConverter> converter;
  std::string trace_path;  // where writer->finish() leaves it: DIR/PID-START.amt
};

// Converts the raw files while the program writes them, on a thread of its own: the program
// keeps one core busy and the conversion, which took longer than the program itself when it ran
// afterwards (python3: 1.45 s after a 1.3 s run), uses another, and writes the trace as it goes
// (compressed on a third thread by zstd). What is left when the program exits is its last
// buffers and the end of the file. Files are found by listing the directory, so children and
// exec'd images are converted alongside too.
class BackgroundConversion {
 public:
  BackgroundConversion(std::string dir, std::vector<std::string> command, int level)
      : dir_(std::move(dir)),
        command_(std::move(command)),
        reserve_(metadata_reserve(command_)),
        level_(level) {
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
  // The conversion of `path` (made now if the file was never seen); after stop() only.
  Conversion& conversion(const std::string& path) {
    auto& c = files_[path];
    if (!c) c = start(path);
    return *c;
  }
  // Drops a conversion; an unfinished trace file is removed with its writer.
  void drop(const std::string& path) { files_.erase(path); }
  uint64_t records_before_stop() const { return records_at_stop_; }

 private:
  std::unique_ptr<Conversion> start(const std::string& path) {
    auto c = std::make_unique<Conversion>();
    c->trace_path = fs::path(path).replace_extension(".amt").string();
    Conversion* raw = c.get();
    c->converter = std::make_unique<RawStreamConverter>(
        path, [this, raw](const raw::FileHeader& h, std::string* error) -> TraceWriter* {
          Outcome so_far;
          so_far.forked = h.forked != 0;
          std::string json = metadata(command_, h.pid, h.ppid, so_far);
          json.resize(reserve_, ' ');
          raw->writer = std::make_unique<TraceWriter>();
          TraceError terr;
          if (raw->writer->open(raw->trace_path, json, level_, &terr)) return raw->writer.get();
          *error = terr.message();
          return nullptr;
        });
    return c;
  }

  // Polls every millisecond while there is nothing new: a full 1 MiB block takes the recorded
  // program several milliseconds to fill, and an idle poll is a directory listing and an fstat.
  void loop() {
    // Below the program (Linux nice is per thread): the conversion should take an idle core, not
    // the program's. At the same priority, on a loaded machine where the two share one
    // scheduler group's time, the program's run grew from 3.3 s to 6.7 s of wall time.
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
    block_file_size_signal();
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      lock.unlock();
      const bool progress = poll();
      lock.lock();
      if (!progress) wake_.wait_for(lock, std::chrono::milliseconds(1));
    }
    for (const auto& [path, c] : files_) records_at_stop_ += c->converter->records();
  }

  // One pass over the directory; true if any record was converted. A file that fails keeps its
  // error (advance() is sticky) and reports it in the final pass.
  bool poll() {
    std::error_code ec;
    bool progress = false;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      if (entry.path().extension() != ".raw") continue;
      RawStreamConverter& c = *conversion(entry.path().string()).converter;
      const uint64_t before = c.records();
      std::string error;
      c.advance(false, &error);
      progress |= c.records() != before;
    }
    return progress;
  }

  std::string dir_;
  std::vector<std::string> command_;
  size_t reserve_;
  int level_;
  std::map<std::string, std::unique_ptr<Conversion>> files_;
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
  // Killed with us (SIGKILL): without a recorder converting its stream the program's recording
  // is lost anyway, and a server recorded for `validate` must not outlive a killed run.
  spec.die_with_parent = true;
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

// The line printed for a finished trace.
void print_summary(const std::string& path, const RawProcess& p, const RecordStats& stats) {
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
               path.c_str(), static_cast<unsigned long long>(stats.events), stats.trace_threads,
               static_cast<unsigned long long>(stats.trace_peak_live_bytes), p.pid, notes.c_str());
}

// The last records of one process's raw file (`c`: converted in part while the program ran),
// then its trace sealed and moved to `path`. False with the reason in *error. No check_trace:
// TraceBuilder refused every inconsistent event as it came, and the converter's own peak (from
// the records) must equal the builder's (along the trace), which `trace info` reproduces.
bool finish_trace(Conversion& c, const std::string& path, const std::vector<std::string>& command,
                  const RawProcess& p, Outcome* o, std::string* error) {
  if (!c.converter->advance(true, error)) {
    if (const int err = static_cast<int>(c.converter->write_errno()))
      *error = "pid " + std::to_string(p.pid) + ": the recording library could not write its " +
               "records (" + std::strerror(err) + "); no trace written";
    return false;
  }
  c.converter->finish(nullptr, &o->stats);
  const RecordStats& s = o->stats;
  if (s.peak_live_bytes != s.trace_peak_live_bytes) {
    *error = path + ": internal error: peak live bytes " + std::to_string(s.peak_live_bytes) +
             " from the records, " + std::to_string(s.trace_peak_live_bytes) + " along the trace";
    return false;
  }
  TraceError terr;
  if (!c.writer->finish(&terr, metadata(command, p.pid, p.ppid, *o))) {
    terr.path = path;
    *error = terr.message();
    return false;
  }
  if (std::rename(c.trace_path.c_str(), path.c_str()) != 0) {
    *error = path + ": cannot move the trace into place: " + std::strerror(errno);
    return false;
  }
  fsync_parent_dir(path);
  return true;
}

// One process's trace (the program's is -o FILE, each child's beside it) and the line on what it
// holds. `c`: p's raw file's conversion; null: none (the program was not recorded), an empty
// trace. False with the reason printed.
bool write_process_trace(const RawProcess& p, const std::string& path,
                         const std::vector<std::string>& command, Outcome o, Conversion* c,
                         int level) {
  std::string error;
  bool ok;
  if (c) {
    ok = finish_trace(*c, path, command, p, &o, &error);
  } else {
    TraceWriter writer;
    TraceError terr;
    ok = writer.open(path, metadata(command, p.pid, p.ppid, o), level, &terr) &&
         writer.finish(&terr);
    if (!ok) error = terr.message();
  }
  if (!ok) {
    std::fprintf(stderr, "allocmark: record: %s\n", error.c_str());
    return false;
  }
  print_summary(path, p, o.stats);
  return true;
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

int RecordCommand::run() {
  const std::vector<std::string> command = command_words();
  if (command.empty()) return 2;
  const std::string raw_dir = make_raw_dir();
  if (raw_dir.empty()) return 2;

  const auto t0 = std::chrono::steady_clock::now();
  BackgroundConversion background(raw_dir, command, level_);
  const ProcessResult l = launch(command, raw_dir, no_children_);
  const auto t1 = std::chrono::steady_clock::now();
  block_file_size_signal();  // the program is gone: no child inherits our mask now
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
  // Images replaced by an exec are not converted: their partial work (and file) is dropped.
  for (const auto& p : processes)
    for (const auto& old : p.replaced) background.drop(old);
  int status = code;
  uint64_t records = 0;
  for (const auto& p : processes) {
    Conversion* c = p.path.empty() ? nullptr : &background.conversion(p.path);
    Outcome o;
    o.root = p.pid == root;
    o.forked = p.forked;
    o.code = code;
    o.replaced = p.replaced.size();
    const std::string path = o.root ? out_ : child_trace_path(out_, p.pid);
    if (!write_process_trace(p, path, command, o, c, level_)) status = 2;
    if (c) records += c->converter->records();
    if (c) background.drop(p.path);  // its writer's memory goes now
  }
  remove_dir(raw_dir);
  if (status == 2) return status;  // the error lines above say it all
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
