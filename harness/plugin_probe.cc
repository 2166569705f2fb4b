// Resolving `--plugin` specs: file checks here, loading in a worker child. Layer: harness
// (parent side). One probe process per plugin per run, before any cell: a few milliseconds.
#include "harness/plugin_probe.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "harness/worker_process.h"

namespace allocmark {
namespace {

std::string name_from_file(const std::string& path) {
  std::string stem = std::filesystem::path(path).filename().string();
  stem = stem.substr(0, stem.find('.'));
  if (stem.rfind("lib", 0) == 0 && stem.size() > 3) stem = stem.substr(3);
  return stem.empty() ? "plugin" : stem;
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
      *error = "--plugin: '" + spec + "' should be /path/plugin.so or NAME=/path/plugin.so";
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

  std::string description = "plugin from " + path;
  WorkerRequest probe;
  probe.executable = worker;
  probe.args = {"--kind", "plugin", "--plugin-path", path, "--describe", "1", "--result-fd", "3"};
  probe.timeout_s = 30;
  const WorkerOutcome outcome = run_worker(probe);
  const nlohmann::json r = nlohmann::json::parse(outcome.result_json, nullptr, false);
  if (r.is_object() && r.value("status", "") == "ok") {
    if (name.empty()) name = r.value("name", "");
    description = "plugin " + r.value("name", "") + " " + r.value("version", "") + " from " + path;
  } else {
    // Not fatal here: the cells record why (status error), next to every other allocator's.
    const std::string why = r.is_object() ? r.value("detail", "") : outcome.detail;
    description += " (does not load: " + why + ")";
  }
  if (name.empty()) name = name_from_file(path);
  *out = AllocatorInfo{};
  out->name = name;
  out->kind = "plugin";
  out->library = path;
  out->description = description;
  return true;
}

}  // namespace allocmark
