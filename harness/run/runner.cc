// `allocmark run`: trace preparation, the cell loop with interleaved allocators, result files.
// Layer: harness (parent side). The parent never loads an allocator under test.
#include "harness/run/runner.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "harness/program/program_cell.h"
#include "harness/run/allocator_registry.h"
#include "harness/run/layout.h"
#include "harness/run/plugin_probe.h"
#include "harness/run/precision_rounds.h"
#include "harness/run/program_targets.h"
#include "harness/run/python_tools.h"
#include "harness/run/results_log.h"
#include "harness/run/run_directory.h"
#include "harness/run/system_info.h"
#include "harness/run/worker_process.h"
#include "workloads/trace_file.h"
#include "workloads/trace_stream.h"

namespace allocmark {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::atomic<int> g_interrupted{0};

void on_interrupt(int) {
  g_interrupted.store(1);
  kill_current_worker();
  kill_current_program();
}

std::string timestamp(const char* format) {
  char buf[64];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

// What one workload's cells run: a trace to replay (one per workload and thread count), or a
// real program (`program` set; threads 1, no trace).
struct PreparedTrace {
  std::string workload;
  std::string path;
  uint32_t threads = 1;
  TraceSummary summary;
  const ProgramTarget* program = nullptr;
};

struct Cell {
  const PreparedTrace* trace;
  const AllocatorInfo* allocator;
  int rep;  // negative: warm-up, not written
  const ProgramTarget* program() const { return trace->program; }
};

std::string cell_key(const std::string& workload, uint32_t threads, const std::string& alloc,
                     int rep) {
  return workload + "\x1f" + std::to_string(threads) + "\x1f" + alloc + "\x1f" +
         std::to_string(rep);
}

// Every trace is checked as a stream (any length, memory bounded by its live objects) and
// generated straight to its file: the parent never holds a trace.
bool prepare_traces(const RunOptions& o, const std::string& trace_dir,
                    std::vector<PreparedTrace>* out) {
  for (const auto& w : o.workloads) {
    if (!w.generator) {
      PreparedTrace p{w.name, w.trace_path, 1, {}};
      TraceError err;
      if (!check_trace_file(w.trace_path, &p.summary, &err)) {
        std::fprintf(stderr, "allocmark: --trace %s\n", err.message().c_str());
        return false;
      }
      p.threads = p.summary.threads;
      out->push_back(std::move(p));
      continue;
    }
    for (uint32_t threads : w.threads) {
      PreparedTrace p{
          w.name, trace_dir + "/" + w.name + "-t" + std::to_string(threads) + ".amt", threads, {}};
      TraceError err;
      // Resumed runs reuse the traces they were measured with.
      if (!fs::exists(p.path) || !check_trace_file(p.path, &p.summary, &err)) {
        GeneratorArgs args = w.args;
        args.threads = threads;
        std::string error;
        if (!generate_trace_file(*w.generator, args, p.path, 3, &error)) {
          std::fprintf(stderr, "allocmark: workload '%s': %s\n", w.name.c_str(), error.c_str());
          return false;
        }
        if (!check_trace_file(p.path, &p.summary, &err)) {
          std::fprintf(stderr, "allocmark: workload '%s' generated a bad trace: %s\n",
                       w.name.c_str(), err.message().c_str());
          return false;
        }
      }
      out->push_back(std::move(p));
    }
  }
  return true;
}

class Progress {
 public:
  Progress(bool quiet, size_t total) : quiet_(quiet), tty_(isatty(2)), total_(total) {}
  void cell_done(size_t done, const Cell& c, const std::string& status, double secs) {
    elapsed_ += secs;
    if (quiet_) return;
    const double eta =
        done ? elapsed_ / static_cast<double>(done) * static_cast<double>(total_ - done) : 0;
    char line[512];
    std::snprintf(line, sizeof line, "[%zu/%zu] %s t%u %s %s%d: %s (%.2fs) ETA %.0fs", done, total_,
                  c.trace->workload.c_str(), c.trace->threads, c.allocator->name.c_str(),
                  c.rep < 0 ? "warm-up " : "rep ", c.rep < 0 ? -c.rep - 1 : c.rep, status.c_str(),
                  secs, eta);
    if (tty_) {
      std::fprintf(stderr, "\r\033[K%s", line);
      if (done == total_) std::fputc('\n', stderr);
    } else {
      std::fprintf(stderr, "%s\n", line);
    }
  }
  void finish() {
    if (tty_ && !quiet_) std::fputc('\n', stderr);
  }

 private:
  bool quiet_, tty_;
  size_t total_;
  double elapsed_ = 0;
};

// Splits "k=v,k=v" (the joined --alloc-option values of one allocator) into its items.
std::vector<std::string> option_items(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    items.push_back(text.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

// --alloc-option: every option must reach an allocator of this run that reads it, and be one
// that allocator accepts. Otherwise the worker would find out, once per cell, as status `error`
// (native allocators, plugins), or never (preloaded libraries do not see --options at all).
bool check_alloc_options(const RunOptions& o, const std::vector<AllocatorInfo>& allocators) {
  for (const auto& [name, text] : o.alloc_options) {
    const std::string flag = "--alloc-option " + name + ":" + text;
    const auto it = std::find_if(allocators.begin(), allocators.end(),
                                 [&](const AllocatorInfo& a) { return a.name == name; });
    if (it == allocators.end()) {
      std::string names;
      for (const auto& a : allocators) names += (names.empty() ? "" : ", ") + a.name;
      std::fprintf(stderr, "allocmark: %s: '%s' is not in this run (allocators: %s)\n",
                   flag.c_str(), name.c_str(), names.c_str());
      return false;
    }
    const std::string support = alloc_option_support(*it);
    std::string error;
    if (support == "table") {
      for (const auto& item : option_items(text)) {
        if (!check_allocator_option(*it, item, &error)) {
          std::fprintf(stderr, "allocmark: --alloc-option %s:%s: %s\n", name.c_str(), item.c_str(),
                       error.c_str());
          return false;
        }
      }
    } else if (support == "plugin") {
      if (!probe_plugin_options(*it, text, worker_path(), &error)) {
        std::fprintf(stderr, "allocmark: %s: %s\n", flag.c_str(), error.c_str());
        return false;
      }
    } else {
      const std::string hint =
          support == "none" ? "" : "; it reads " + support + "=value from the environment";
      std::fprintf(stderr,
                   "allocmark: %s: '%s' takes no options here (expected bump, arena, pool or a "
                   "plugin)%s\n",
                   flag.c_str(), name.c_str(), hint.c_str());
      return false;
    }
  }
  return true;
}

// A variant's name from its base, the swept variable and the value: NAME-KEY-VALUE, with any
// character an allocator name cannot hold in VALUE made '_'.
std::string variant_name(const SweepSpec& s, const std::string& value) {
  std::string v = value;
  for (char& c : v)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  return s.allocator + "-" + s.key + "-" + v;
}

// --alloc-env (onto allocators of the run or --sweep bases) and --sweep (one variant per value).
// False after one line on stderr.
bool add_variants(const RunOptions& o, std::vector<AllocatorInfo>* allocators) {
  auto find = [&](const std::string& name) {
    return std::find_if(allocators->begin(), allocators->end(),
                        [&](const AllocatorInfo& a) { return a.name == name; });
  };
  for (const auto& [name, env] : o.alloc_env) {
    const bool swept = std::any_of(o.sweeps.begin(), o.sweeps.end(),
                                   [&](const SweepSpec& s) { return s.allocator == name; });
    if (find(name) == allocators->end() && !swept) {
      std::fprintf(stderr, "allocmark: --alloc-env %s:...: '%s' is not in this run\n", name.c_str(),
                   name.c_str());
      return false;
    }
    if (find(name) != allocators->end()) find(name)->env = env;
  }
  for (const SweepSpec& s : o.sweeps) {
    AllocatorInfo base;
    std::string error;
    if (auto it = find(s.allocator); it != allocators->end()) {
      base = *it;
    } else if (!resolve_allocator(s.allocator, &base, &error) || !base.available) {
      std::fprintf(stderr,
                   "allocmark: --sweep %s:%s=...: '%s' is neither in this run nor a "
                   "built-in allocator available here\n",
                   s.allocator.c_str(), s.key.c_str(), s.allocator.c_str());
      return false;
    }
    if (o.alloc_env.count(s.allocator)) base.env = o.alloc_env.at(s.allocator);
    for (const std::string& value : s.values) {
      AllocatorInfo v = base;
      v.name = variant_name(s, value);
      if (v.worker_name.empty() && v.kind != "preload") v.worker_name = base.name;
      v.env.push_back(s.key + "=" + value);
      v.sweep_base = s.allocator;
      v.sweep_key = s.key;
      v.sweep_value = value;
      v.description = base.name + " with " + s.key + "=" + value;
      if (find(v.name) != allocators->end()) {
        std::fprintf(stderr, "allocmark: --sweep: the variant name '%s' is already in this run\n",
                     v.name.c_str());
        return false;
      }
      allocators->push_back(std::move(v));
    }
  }
  return true;
}

// Built-in names, NAME=/path.so, plugins, their options and the environment they will read,
// checked before anything runs or is written: a typo costs nothing. False after printing one line.
bool resolve_allocators(const RunOptions& o, std::vector<AllocatorInfo>* out) {
  std::vector<AllocatorInfo>& allocators = *out;
  // Results, cell keys and --alloc-option are by name: two allocators cannot share one.
  auto taken = [&](const std::string& name) {
    return std::any_of(allocators.begin(), allocators.end(),
                       [&](const AllocatorInfo& a) { return a.name == name; });
  };
  for (const auto& name : o.allocators) {
    AllocatorInfo info;
    std::string error;
    if (!resolve_allocator(name, &info, &error)) {
      std::fprintf(stderr, "allocmark: %s\n", error.c_str());
      return false;
    }
    if (!info.available) {
      std::fprintf(stderr, "allocmark: --allocators: '%s' is not available here: %s\n",
                   name.c_str(), info.why_unavailable.c_str());
      return false;
    }
    if (taken(info.name)) {
      std::fprintf(stderr, "allocmark: --allocators: '%s' is named twice (each name once)\n",
                   info.name.c_str());
      return false;
    }
    allocators.push_back(info);
  }
  for (const auto& spec : o.plugins) {
    AllocatorInfo info;
    std::string error;
    if (!resolve_plugin(spec, worker_path(), &info, &error)) {
      std::fprintf(stderr, "allocmark: %s\n", error.c_str());
      return false;
    }
    if (taken(info.name)) {
      std::fprintf(stderr,
                   "allocmark: --plugin %s: the name '%s' is already in this run (use "
                   "--plugin OTHER=%s)\n",
                   spec.c_str(), info.name.c_str(), info.library.c_str());
      return false;
    }
    allocators.push_back(info);
  }
  if (!add_variants(o, &allocators)) return false;
  for (const auto& a : allocators) {
    std::string error;
    if (!check_allocator_environment(a, &error)) {
      std::fprintf(stderr, "allocmark: environment variable %s (read by %s)\n", error.c_str(),
                   a.name.c_str());
      return false;
    }
  }
  return check_alloc_options(o, allocators);
}

// --baseline (default glibc when in the run, else the first allocator) and its A/A copy, which
// the worker runs exactly as the baseline (same kind, library, options) under another name: its
// ratio to the baseline is the machine's noise, measured in the run it judges. False after one
// line.
bool add_baseline_and_aa(RunOptions& o, std::vector<AllocatorInfo>* allocators) {
  auto find = [&](const std::string& name) {
    return std::find_if(allocators->begin(), allocators->end(),
                        [&](const AllocatorInfo& a) { return a.name == name; });
  };
  if (o.baseline.empty()) {
    o.baseline = find("glibc") != allocators->end() ? "glibc" : allocators->front().name;
  } else if (find(o.baseline) == allocators->end()) {
    std::string names;
    for (const auto& a : *allocators) names += (names.empty() ? "" : ", ") + a.name;
    std::fprintf(stderr, "allocmark: --baseline: '%s' is not in this run (allocators: %s)\n",
                 o.baseline.c_str(), names.c_str());
    return false;
  }
  if (!o.aa) return true;
  AllocatorInfo copy = *find(o.baseline);
  copy.worker_name = copy.worker_name.empty() ? copy.name : copy.worker_name;
  copy.name = o.baseline + "-aa";
  copy.aa_copy = true;
  if (find(copy.name) != allocators->end()) {
    std::fprintf(stderr,
                 "allocmark: --allocators: '%s' is the name of the baseline's A/A copy; rename "
                 "that allocator or add --no-aa\n",
                 copy.name.c_str());
    return false;
  }
  copy.description = o.baseline + " run a second time under another name: the A/A noise floor";
  if (o.alloc_options.count(o.baseline)) o.alloc_options[copy.name] = o.alloc_options[o.baseline];
  allocators->push_back(std::move(copy));
  return true;
}

// A run directory is only worth keeping once meta.json is in it. Until then this remembers the
// topmost directory that this run itself created (DIR, or DIR/traces when DIR existed, or a
// parent of DIR that did not exist) and removes it on the way out, so a refused run leaves
// nothing behind, not even an empty directory in results/. Call keep() once meta.json exists.
class NewDirectoryGuard {
 public:
  explicit NewDirectoryGuard(const std::string& dir) {
    std::error_code ec;
    fs::path p = fs::absolute(dir, ec).lexically_normal();
    if (ec) return;
    if (p.filename().empty()) p = p.parent_path();  // "results/x/" names "results/x"
    for (; !p.empty() && p != p.root_path() && !fs::exists(p, ec); p = p.parent_path()) top_ = p;
  }
  ~NewDirectoryGuard() {
    std::error_code ec;
    if (!top_.empty()) fs::remove_all(top_, ec);
  }
  NewDirectoryGuard(const NewDirectoryGuard&) = delete;
  NewDirectoryGuard& operator=(const NewDirectoryGuard&) = delete;
  void keep() { top_.clear(); }

 private:
  fs::path top_;
};

// The worker command line and environment of one cell.
WorkerRequest worker_request(const RunOptions& o, const Cell& c) {
  WorkerRequest req;
  req.executable = worker_path();
  req.timeout_s = o.timeout_s;
  req.mem_limit_bytes = o.mem_limit_bytes;
  const std::string& worker_name =
      c.allocator->worker_name.empty() ? c.allocator->name : c.allocator->worker_name;
  req.args = {"--trace", c.trace->path,     "--allocator", worker_name,
              "--kind",  c.allocator->kind, "--mode",      o.mode,
              "--touch", o.touch,           "--result-fd", "3"};
  if (o.check) req.args.insert(req.args.end(), {"--check", "1"});
  // Facts of the parent's check that a streamed replay cannot know before it ends.
  const TraceSummary& s = c.trace->summary;
  req.args.insert(req.args.end(),
                  {"--stream", o.stream, "--live-objects", std::to_string(s.peak_live_objects),
                   "--phase-ends-empty", s.phase_ends_empty ? "1" : "0"});
  if (!o.pin) req.args.insert(req.args.end(), {"--pin", "0"});
  if (o.alloc_options.count(c.allocator->name))
    req.args.insert(req.args.end(), {"--options", o.alloc_options.at(c.allocator->name)});
  if (c.allocator->kind == "plugin")
    req.args.insert(req.args.end(), {"--plugin-path", c.allocator->library});
  if (c.allocator->kind == "preload" && !c.allocator->library.empty())
    req.env.push_back("LD_PRELOAD=" + c.allocator->library);
  req.env.insert(req.env.end(), c.allocator->env.begin(), c.allocator->env.end());
  return req;
}

// KEY=VALUE entries as {"KEY": "VALUE"}.
json env_object(const std::vector<std::string>& env) {
  json out = json::object();
  for (const auto& e : env) out[e.substr(0, e.find('='))] = e.substr(e.find('=') + 1);
  return out;
}

json cell_identity(const Cell& c) {
  json line = {{"workload", c.trace->workload},
               {"allocator", c.allocator->name},
               {"allocator_kind", c.allocator->kind},
               {"threads", c.trace->threads},
               {"rep", c.rep}};
  if (!c.program()) line["trace"] = c.trace->path;
  if (!c.allocator->env.empty()) line["alloc_env"] = env_object(c.allocator->env);
  return line;
}

// One result line: the cell's identity, then what the worker reported, or why it reported
// nothing (the child is never trusted: garbage becomes status "error").
json result_line(const Cell& c, const WorkerOutcome& outcome) {
  json line = cell_identity(c);
  if (!outcome.result_json.empty()) {
    json r = json::parse(outcome.result_json, nullptr, false);
    if (r.is_discarded() || !r.is_object()) {
      line["status"] = "error";
      line["detail"] = "worker wrote an unreadable result";
    } else {
      for (auto it = r.begin(); it != r.end(); ++it) line[it.key()] = *it;
      if (line.value("status", "") != "ok" && !outcome.stderr_tail.empty())
        line["stderr"] = outcome.stderr_tail;
    }
  } else {
    line["status"] = outcome.status;
    line["detail"] = outcome.detail;
  }
  line["peak_live_bytes"] = c.trace->summary.peak_live_bytes;
  line["cell_seconds"] = outcome.elapsed_s;
  return line;
}

// A program cell's line: the program run once under the allocator (harness/program/).
json program_line(const RunOptions& o, const Cell& c) {
  const ProgramTarget& t = *c.program();
  ProgramRun run;
  run.spec = t.spec;
  run.dir = t.dir;
  std::string why_not;
  program_preload(*c.allocator, &run.preload, &why_not);  // planned only when it has one
  run.is_glibc = c.allocator->kind == "preload" && c.allocator->library.empty();
  run.witness_library = witness_library();
  run.witness_path = t.dir + "/witness.txt";
  run.output_path = t.dir + "/stdout." + c.allocator->name + ".txt";
  run.reference_output = t.reference_output;
  run.reference_error = t.reference_error;
  run.timeout_s = o.timeout_s;
  run.mem_limit_bytes = o.mem_limit_bytes;
  run.env = c.allocator->env;
  const auto start = std::chrono::steady_clock::now();
  json line = cell_identity(c);
  const json r = run_program(run);
  for (auto it = r.begin(); it != r.end(); ++it) line[it.key()] = *it;
  line["cell_seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return line;
}

// A run directory from before the precision rounds and the A/A copy (its plan has no
// "precision") is finished as it was planned: neither is added to it on --resume.
void keep_plan_of_older_run(RunOptions& o) {
  std::ifstream f(o.out_dir + "/meta.json");
  const json old = json::parse(f, nullptr, /*allow_exceptions=*/false);
  if (old.is_discarded() || !old.is_object() || !old.contains("plan") || !old["plan"].is_object() ||
      old["plan"].contains("precision"))
    return;
  o.precision = 0;
  o.aa = false;
  if (!o.quiet)
    std::fprintf(stderr, "allocmark: %s predates --precision and the A/A copy: resumed without\n",
                 o.out_dir.c_str());
}

// --shard K/N: only the workloads whose index is K-1 modulo N, each whole (every allocator,
// thread count and repetition of it), so every comparison stays on one machine.
// Programs count after the generated workloads and trace files, in the same modulo.
void keep_shard_workloads(RunOptions& o) {
  auto mine = [&](size_t i) {
    return static_cast<int>(i % static_cast<size_t>(o.shard_count)) == o.shard_index - 1;
  };
  std::vector<WorkloadSpec> workloads;
  std::vector<ProgramSpec> programs;
  for (size_t i = 0; i < o.workloads.size(); ++i)
    if (mine(i)) workloads.push_back(o.workloads[i]);
  for (size_t i = 0; i < o.programs.size(); ++i)
    if (mine(o.workloads.size() + i)) programs.push_back(o.programs[i]);
  if (!o.quiet)
    std::fprintf(stderr, "allocmark: shard %d/%d: %zu of %zu workload(s)\n", o.shard_index,
                 o.shard_count, workloads.size() + programs.size(),
                 o.workloads.size() + o.programs.size());
  o.workloads = std::move(workloads);
  o.programs = std::move(programs);
}

// --resume: what is already in results.jsonl (after repairing a torn tail) is not run again, and
// the precision rounds continue from it. False after one line on stderr.
bool load_resumed(const std::string& results_path, std::set<std::string>* done_keys,
                  PrecisionTracker* tracker) {
  // A kill -9 mid-append may have left half a line; the next append must not glue onto it.
  std::string note, error, warning;
  if (!repair_results_tail(results_path, &note, &error)) {
    std::fprintf(stderr, "allocmark: %s\n", error.c_str());
    return false;
  }
  if (!note.empty()) std::fprintf(stderr, "allocmark: %s\n", note.c_str());
  for (const auto& l : load_results(results_path, &warning)) {
    done_keys->insert(cell_key(l.value("workload", ""), l.value("threads", 0u),
                               l.value("allocator", ""), l.value("rep", -1)));
    tracker->add(l);
  }
  if (!warning.empty()) std::fprintf(stderr, "allocmark: %s\n", warning.c_str());
  return true;
}

// meta.json as the run starts: machine, build, allocators and the plan (README: results/).
json initial_meta(const RunOptions& o, const std::vector<AllocatorInfo>& allocators,
                  const std::vector<PreparedTrace>& traces) {
  json meta;
  meta["schema_version"] = 1;
  meta["command_line"] = o.command_line;
  std::error_code cwd_error;  // relative paths on the command line need it to reproduce
  meta["working_directory"] = fs::current_path(cwd_error).string();
  meta["started"] = timestamp("%Y-%m-%dT%H:%M:%S%z");
  meta["finished"] = nullptr;
  meta["machine"] = machine_info();
  meta["build"] = build_info();
  meta["git_revision"] = meta["build"]["git_revision"];
  meta["allocmark_version"] = meta["build"]["allocmark_version"];
  json alloc_meta = json::object();
  for (const auto& a : allocators) {
    alloc_meta[a.name] = {{"kind", a.kind},
                          {"path", a.library.empty() ? json(nullptr) : json(a.library)},
                          {"description", a.description}};
    if (o.alloc_options.count(a.name)) alloc_meta[a.name]["options"] = o.alloc_options.at(a.name);
    if (a.aa_copy) alloc_meta[a.name]["aa_of"] = o.baseline;
    if (!a.env.empty()) alloc_meta[a.name]["env"] = env_object(a.env);
    if (!a.sweep_base.empty())
      alloc_meta[a.name]["sweep"] = {
          {"base", a.sweep_base}, {"key", a.sweep_key}, {"value", a.sweep_value}};
  }
  meta["allocators"] = alloc_meta;
  json plan_workloads = json::array();
  for (const auto& t : traces) {
    if (t.program) {
      const ProgramSpec& p = *t.program->spec;
      plan_workloads.push_back({{"workload", t.workload},
                                {"kind", "program"},
                                {"command", p.command},
                                {"driver", p.driver},
                                {"directory", t.program->dir},
                                {"check_output", p.check_output},
                                {"reference_output", t.program->reference_output.empty()
                                                         ? json(t.program->reference_error)
                                                         : json(t.program->reference_output)},
                                {"threads", 1}});
      continue;
    }
    plan_workloads.push_back({{"workload", t.workload},
                              {"trace", t.path},
                              {"threads", t.threads},
                              {"events", t.summary.events},
                              {"peak_live_bytes", t.summary.peak_live_bytes}});
  }
  json plan_allocators = json::array();  // resolved names: NAME=/x.so and plugins by name
  for (const auto& a : allocators) plan_allocators.push_back(a.name);
  meta["plan"] = {{"allocators", plan_allocators},
                  {"workloads", plan_workloads},
                  {"reps", o.reps},
                  {"warmup", o.warmup},
                  {"seed", o.seed},
                  {"replay_mode", o.mode},
                  {"touch", o.touch},
                  {"timeout_s", o.timeout_s},
                  {"mem_limit_bytes", o.mem_limit_bytes},
                  {"check", o.check},
                  {"pin", o.pin},
                  {"baseline", o.baseline},
                  {"aa", o.aa ? json(o.baseline + "-aa") : json(nullptr)},
                  {"precision", o.precision > 0 ? json(o.precision) : json(nullptr)},
                  {"max_reps", std::max(o.max_reps, o.reps)},
                  {"budget_s", o.budget_s}};
  if (o.shard_count > 0) {
    json names = json::array();
    for (const auto& w : o.workloads) names.push_back(w.name);
    meta["shard"] = {{"index", o.shard_index}, {"count", o.shard_count}, {"workloads", names}};
  }
  return meta;
}

// Runs cells and appends their lines; shared by the --reps rounds and the precision rounds.
struct CellLoop {
  const RunOptions& o;
  std::string results_path;
  std::chrono::steady_clock::time_point start;
  PrecisionTracker* tracker;
  const std::set<std::string>* done_keys;  // (workload, threads, allocator, rep) already written
  bool write_failed = false;
  bool budget_reached = false;

  bool done(const PreparedTrace& t, const AllocatorInfo& a, int rep) const {
    return rep >= 0 && done_keys->count(cell_key(t.workload, t.threads, a.name, rep));
  }
  bool over_budget() const {
    const std::chrono::duration<double> spent = std::chrono::steady_clock::now() - start;
    return spent.count() >= o.budget_s;
  }

  // In order; stops at Ctrl-C and, when budgeted, before a cell once the budget is spent (the
  // cell in flight finishes: the budget can be overrun by one cell). False on a write error.
  bool run(const std::vector<Cell>& cells, bool budgeted) {
    Progress progress(o.quiet, cells.size());
    size_t count = 0;
    for (const Cell& c : cells) {
      if (g_interrupted.load()) break;
      if (budgeted && over_budget()) {
        budget_reached = true;
        break;
      }
      const json line =
          c.program() ? program_line(o, c) : result_line(c, run_worker(worker_request(o, c)));
      if (g_interrupted.load()) break;  // a cell cut short by Ctrl-C is not a result
      progress.cell_done(++count, c, line.value("status", "?"), line.value("cell_seconds", 0.0));
      if (c.rep < 0) continue;
      tracker->add(line);
      std::string error;
      if (!append_result_line(results_path, line, &error)) {
        std::fprintf(stderr, "allocmark: %s\n", error.c_str());
        return !(write_failed = true);
      }
    }
    if (!cells.empty()) progress.finish();
    return true;
  }

  json precision_rounds(const std::vector<PreparedTrace>& traces,
                        const std::vector<AllocatorInfo>& allocators, std::mt19937_64& rng);
};

bool runs_programs(const AllocatorInfo& a) {
  std::string library, why_not;
  return program_preload(a, &library, &why_not);
}

// One round: per trace, the allocators in a seeded shuffle, so machine drift spreads over all of
// them; repetitions are the outer loop. Warm-ups (rep < 0) and --reps rounds take every cell not
// yet written; precision rounds only the cells the tracker says need more.
void plan_round(const CellLoop& loop, const std::vector<PreparedTrace>& traces,
                const std::vector<AllocatorInfo>& allocators, int rep, std::mt19937_64& rng,
                std::vector<Cell>* cells) {
  const bool extra = rep >= loop.o.reps;
  for (const auto& t : traces) {
    std::vector<const AllocatorInfo*> order;
    for (const auto& a : allocators) order.push_back(&a);
    std::shuffle(order.begin(), order.end(), rng);
    for (const auto* a : order) {
      if (loop.done(t, *a, rep) || (t.program && !runs_programs(*a))) continue;
      if (extra && !loop.tracker->needs_more(t.workload, t.threads, a->name)) continue;
      cells->push_back({&t, a, rep});
    }
  }
}

// The rounds after --reps: ordinary repetitions with the next rep indices (so --resume and merge
// treat them like any other), each only for the cells not yet within the target, until none is
// left, --max-reps or the --budget. Returns meta.json's "precision_rounds".
json CellLoop::precision_rounds(const std::vector<PreparedTrace>& traces,
                                const std::vector<AllocatorInfo>& allocators,
                                std::mt19937_64& rng) {
  const int max_reps = std::max(o.max_reps, o.reps);
  int rounds = 0;
  size_t extra_cells = 0;
  for (int rep = o.reps; o.precision > 0 && rep < max_reps && !g_interrupted.load(); ++rep) {
    if (tracker->cells_needing_more() == 0) break;
    std::vector<Cell> cells;
    plan_round(*this, traces, allocators, rep, rng, &cells);
    if (cells.empty()) continue;  // a resumed run may hold this round already
    if (over_budget()) {
      budget_reached = true;
      break;
    }
    if (!o.quiet)
      std::fprintf(stderr, "allocmark: precision round %d: %zu cell(s) not yet within ±%.1f %%\n",
                   rep + 1, cells.size(), o.precision * 100);
    ++rounds;
    extra_cells += cells.size();
    if (!run(cells, /*budgeted=*/true) || budget_reached) break;
  }
  const size_t short_of = tracker->cells_short_of_target();
  std::string stopped = "every cell within the target";
  if (!(o.precision > 0))
    stopped = "off";
  else if (budget_reached)
    stopped = "time budget reached";
  else if (g_interrupted.load())
    stopped = "interrupted";
  else if (short_of > 0)
    stopped = std::to_string(short_of) + " cell(s) short of the target at max reps " +
              std::to_string(max_reps) + " or after a failed repetition";
  const std::chrono::duration<double> spent = std::chrono::steady_clock::now() - start;
  return {{"rounds", rounds},
          {"cells", extra_cells},
          {"budget_reached", budget_reached},
          {"cells_short_of_target", short_of},
          {"stopped", stopped},
          {"run_seconds", spent.count()}};
}

// The run directory before the first cell: refused when it already holds a run (unless
// resuming one), created otherwise. Returns 0, or the exit status after one line on stderr.
int open_run_directory(const RunOptions& o) {
  const std::string results_path = o.out_dir + "/results.jsonl";
  const std::string meta_path = o.out_dir + "/meta.json";
  if (o.resume) {
    if (!fs::exists(meta_path)) {
      std::fprintf(stderr, "allocmark: --resume %s: no meta.json there, not a run directory\n",
                   o.out_dir.c_str());
      return 2;
    }
  } else if (fs::exists(results_path) || fs::exists(meta_path)) {
    std::fprintf(stderr,
                 "allocmark: --out %s already holds a run; choose another directory or add "
                 "--resume to finish it\n",
                 o.out_dir.c_str());
    return 2;
  }
  std::error_code ec;
  fs::create_directories(o.out_dir + "/traces", ec);
  if (ec) {
    std::fprintf(stderr, "allocmark: cannot create %s: %s\n", o.out_dir.c_str(),
                 ec.message().c_str());
    return 2;
  }
  return 0;
}

// Traces and programs, ready for their cells: generated or read traces, program work folders
// after their setup. False after one line on stderr.
bool prepare_targets(const RunOptions& o, std::vector<ProgramTarget>* programs,
                     std::vector<PreparedTrace>* targets) {
  if (!prepare_traces(o, o.out_dir + "/traces", targets)) return false;
  if (!prepare_programs(o.programs, o.out_dir, o.timeout_s, o.quiet, programs)) return false;
  for (const ProgramTarget& p : *programs)  // `programs` is complete: its addresses are stable
    targets->push_back({p.spec->name, "", 1, {}, &p});
  return true;
}

// One line per allocator that cannot run the run's programs (plugins, null): their program
// cells are not planned.
void say_allocators_without_programs(const RunOptions& o,
                                     const std::vector<AllocatorInfo>& allocators) {
  if (o.programs.empty() || o.quiet) return;
  for (const auto& a : allocators) {
    std::string library, why_not;
    if (!program_preload(a, &library, &why_not))
      std::fprintf(stderr, "allocmark: no program cells for %s\n", why_not.c_str());
  }
}

// meta.json as the run starts, with "resumed_from" when it continues an earlier one.
bool write_initial_meta(const RunOptions& o, const std::vector<AllocatorInfo>& allocators,
                        const std::vector<PreparedTrace>& targets, json* meta) {
  const std::string meta_path = o.out_dir + "/meta.json";
  *meta = initial_meta(o, allocators, targets);
  if (o.resume) {
    std::ifstream f(meta_path);
    json old = json::parse(f, nullptr, false);
    if (!old.is_discarded()) (*meta)["resumed_from"] = old.value("started", "");
  }
  std::string error;
  if (!write_json_file(meta_path, *meta, &error)) {
    std::fprintf(stderr, "allocmark: %s\n", error.c_str());
    return false;
  }
  return true;
}

void catch_interrupts() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// After the last cell: meta.json finished, summary, exports, report. The exit status.
int finish_run(const RunOptions& o, json meta, const std::string& results_path) {
  meta["finished"] = g_interrupted.load() ? json(nullptr) : json(timestamp("%Y-%m-%dT%H:%M:%S%z"));
  FinishOptions finish;
  finish.quiet = o.quiet;
  finish.report = o.report;
  finish.interrupted = g_interrupted.load() != 0;
  const int rc = finish_run_directory(o.out_dir, meta, finish);
  if (finish.interrupted) {
    std::fprintf(stderr,
                 "allocmark: interrupted; %zu result line(s) kept in %s (finish with --resume)\n",
                 load_results(results_path, nullptr).size(), results_path.c_str());
    return 130;
  }
  return rc;
}

}  // namespace

std::string default_run_directory() { return "results/" + timestamp("%Y%m%d-%H%M%S"); }

int run_benchmarks(RunOptions o) {
  // Resolve allocators first: a typo must cost nothing.
  const auto run_start = std::chrono::steady_clock::now();  // the --budget clock
  if (o.resume) keep_plan_of_older_run(o);
  std::vector<AllocatorInfo> allocators;
  if (!resolve_allocators(o, &allocators) || !add_baseline_and_aa(o, &allocators)) return 2;
  if (o.shard_count > 0) keep_shard_workloads(o);
  if (o.out_dir.empty()) o.out_dir = default_run_directory();
  NewDirectoryGuard new_directory(o.out_dir + "/traces");
  if (const int rc = open_run_directory(o); rc != 0) return rc;
  std::vector<ProgramTarget> programs;
  std::vector<PreparedTrace> targets;
  if (!prepare_targets(o, &programs, &targets)) return 2;
  say_allocators_without_programs(o, allocators);

  const std::string results_path = o.out_dir + "/results.jsonl";
  std::set<std::string> done_keys;
  PrecisionTracker tracker(o.precision, std::max(o.max_reps, o.reps));
  if (o.resume && !load_resumed(results_path, &done_keys, &tracker)) return 2;
  json meta;
  if (!write_initial_meta(o, allocators, targets, &meta)) return 2;
  new_directory.keep();  // a run directory from here on: --resume finishes it
  catch_interrupts();

  CellLoop loop{o, results_path, run_start, &tracker, &done_keys};
  std::mt19937_64 rng(o.seed);
  std::vector<Cell> cells;
  for (int rep = -o.warmup; rep < o.reps; ++rep)
    plan_round(loop, targets, allocators, rep, rng, &cells);
  if (!loop.run(cells, /*budgeted=*/false)) return 1;
  meta["precision_rounds"] = loop.precision_rounds(targets, allocators, rng);
  teardown_programs(programs, o.timeout_s);
  if (loop.write_failed) return 1;
  return finish_run(o, std::move(meta), results_path);
}

}  // namespace allocmark
