// Resolving `--plugin` specs: file checks here, loading (and create() for option text) in a
// worker child. Layer: harness (parent side). One describe probe per plugin per run, plus one
// option probe per plugin given --alloc-option, all before any cell: a few milliseconds each.
#include "harness/run/plugin_probe.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "harness/run/worker_process.h"
#include "workloads/trace_builder.h"
#include "workloads/trace_file.h"

namespace allocmark {
namespace {

// The worker's load errors start "plugin /abs/path: "; the parent's line already names the flag
// and the file, so the repetition goes.
std::string without_path_prefix(const std::string& why, const std::string& path) {
  const std::string prefix = "plugin " + path + ": ";
  return why.rfind(prefix, 0) == 0 ? why.substr(prefix.size()) : why;
}

// What a worker that wrote no usable JSON did instead: "crashed: signal 11 (SEGV); stderr: ..."
// (worker_process keeps stderr on one line).
std::string outcome_text(const WorkerOutcome& outcome) {
  return outcome.status + (outcome.detail.empty() ? "" : ": " + outcome.detail);
}

}  // namespace

bool resolve_plugin(const std::string& spec, const std::string& worker, AllocatorInfo* out,
                    std::string* error) {
  std::string name, path = spec;
  const size_t eq = spec.find('=');
  if (eq != std::string::npos) {
    name = spec.substr(0, eq);
    path = spec.substr(eq + 1);
    if (name.empty() || path.empty()) {
      *error = "--plugin: expected /path/plugin.so or NAME=/path/plugin.so, got '" + spec + "'";
      return false;
    }
    if (!valid_allocator_name(name)) {
      *error = "--plugin " + spec + ": NAME must be letters, digits, '-', '_' or '.'";
      return false;
    }
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    *error = "--plugin: " + path + ": " + std::strerror(errno);
    return false;
  }
  if (!S_ISREG(st.st_mode) || access(path.c_str(), R_OK) != 0) {
    *error = "--plugin: " + path + " is not a readable file";
    return false;
  }
  // Absolute, so that meta.json names the file unambiguously.
  std::error_code ec;
  const std::string abs = std::filesystem::absolute(path, ec).lexically_normal().string();
  if (!ec) path = abs;
  std::string why;
  if (!check_shared_object(path, /*need_malloc=*/false, &why)) {
    *error = "--plugin " + spec + ": " + why;
    return false;
  }

  WorkerRequest probe;
  probe.executable = worker;
  probe.args = {"--kind", "plugin", "--plugin-path", path, "--describe", "1", "--result-fd", "3"};
  probe.timeout_s = 30;
  const WorkerOutcome outcome = run_worker(probe);
  const nlohmann::json r = nlohmann::json::parse(outcome.result_json, nullptr, false);
  if (!r.is_object()) {
    // A constructor that crashes or hangs in dlopen would do the same in every cell.
    *error = "--plugin " + spec + ": loading it in a worker failed: " + outcome_text(outcome);
    return false;
  }
  if (r.value("status", "") != "ok") {
    *error = "--plugin " + spec + ": " + without_path_prefix(r.value("detail", "?"), path);
    return false;
  }
  if (name.empty()) name = r.value("name", "");
  *out = AllocatorInfo{};
  out->name = name;
  out->kind = "plugin";
  out->library = path;
  out->description =
      "plugin " + r.value("name", "") + " " + r.value("version", "") + " from " + path;
  return true;
}

bool probe_plugin_options(const AllocatorInfo& plugin, const std::string& options,
                          const std::string& worker, std::string* error) {
  // The worker's plugin path runs create() only on the way to a replay, so it gets the smallest
  // trace there is. It lives outside the run directory, which does not exist yet.
  const char* tmp = std::getenv("TMPDIR");
  std::string dir =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/allocmark-probe-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) return true;
  const std::string trace_path = dir + "/probe.amt";
  TraceBuilder builder;
  const uint32_t thread = builder.thread(0);
  const uint32_t obj = builder.new_object();
  builder.malloc(thread, obj, 64);
  builder.free(thread, obj);
  Trace trace = builder.finish();
  TraceSummary summary;
  TraceError trace_error;
  bool checked = true;
  if (check_trace(trace, &summary, &trace_error) &&
      write_trace(trace, trace_path, &trace_error, 1)) {
    WorkerRequest probe;
    probe.executable = worker;
    probe.args = {"--trace",       trace_path,
                  "--allocator",   plugin.name,
                  "--kind",        "plugin",
                  "--options",     options,
                  "--plugin-path", plugin.library,
                  "--mode",        "serial",
                  "--touch",       "none",
                  "--pin",         "0",
                  "--result-fd",   "3"};
    probe.timeout_s = 10;
    const WorkerOutcome outcome = run_worker(probe);
    const nlohmann::json r = nlohmann::json::parse(outcome.result_json, nullptr, false);
    if (r.is_object() && r.value("status", "") == "error") {
      *error = without_path_prefix(r.value("detail", "?"), plugin.library);
      checked = false;
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return checked;
}

}  // namespace allocmark
