// Joining shard run directories: plan check, cell de-duplication check, merged files.
// Layer: harness (parent side). Inputs are only read, never changed.
#include "harness/run/merge.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "base/atomic_file.h"
#include "harness/run/results_log.h"
#include "harness/run/run_directory.h"

namespace allocmark {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Input {
  std::string dir;
  json meta;
  std::vector<json> lines;
};

// The command line with what may differ between shards of one plan taken out: the program
// path, --shard, --out, --resume, and flags that change output only.
std::string plan_command(const std::string& command_line) {
  std::istringstream in(command_line);
  std::vector<std::string> tokens;
  for (std::string t; in >> t;) tokens.push_back(t);
  std::string out;
  for (size_t i = 1; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (t == "--shard" || t == "--out" || t == "--resume") {
      ++i;
      continue;
    }
    if (t.rfind("--shard=", 0) == 0 || t.rfind("--out=", 0) == 0 || t.rfind("--resume=", 0) == 0 ||
        t == "--quiet" || t == "--no-report")
      continue;
    out += (out.empty() ? "" : " ") + t;
  }
  return out;
}

// What must agree between shards, each as (label, value).
std::vector<std::pair<std::string, json>> plan_identity(const json& meta) {
  const json plan = meta.value("plan", json::object());
  std::vector<std::pair<std::string, json>> id;
  for (const char* k :
       {"allocators", "reps", "warmup", "seed", "replay_mode", "touch", "timeout_s",
        "mem_limit_bytes", "check", "baseline", "aa", "precision", "max_reps", "budget_s"})
    id.emplace_back(k, plan.value(k, json(nullptr)));
  const json shard = meta.value("shard", json(nullptr));
  id.emplace_back("shard count",
                  shard.is_object() ? shard.value("count", json(nullptr)) : json(nullptr));
  id.emplace_back("command line", plan_command(meta.value("command_line", "")));
  return id;
}

std::string cell_key(const json& l) {
  return l.value("workload", "") + "/threads:" + std::to_string(l.value("threads", 0u)) +
         "/alloc:" + l.value("allocator", "") + "/rep:" + std::to_string(l.value("rep", -1));
}

bool write_lines(const std::string& path, const std::vector<json>& lines, std::string* error) {
  std::string text;
  for (const auto& l : lines) text += l.dump() + "\n";
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  const bool ok = fd >= 0 && write_all(fd, text) && fsync(fd) == 0;
  if (!ok) *error = path + ": cannot write: " + strerror(errno);
  if (fd >= 0) close(fd);
  return ok;
}

int refuse(const std::string& message) {
  std::fprintf(stderr, "allocmark: merge: %s\n", message.c_str());
  return 2;
}

// Reads each input's meta.json and results.jsonl (warnings for skipped lines go to stderr as
// they come). Returns why the inputs are refused, or "" when every one is a run directory.
std::string load_inputs(const MergeOptions& o, std::vector<Input>* inputs) {
  for (const auto& dir : o.inputs) {
    std::error_code ec;
    if (fs::exists(o.out_dir) && fs::equivalent(dir, o.out_dir, ec))
      return dir + " is also the output directory";
    std::ifstream f(dir + "/meta.json");
    if (!f) return dir + ": no meta.json there, not a run directory";
    Input in{dir, json::parse(f, nullptr, /*allow_exceptions=*/false), {}};
    if (in.meta.is_discarded() || !in.meta.is_object())
      return dir + "/meta.json: not a JSON object";
    std::string warning;
    in.lines = load_results(dir + "/results.jsonl", &warning);
    if (!warning.empty()) std::fprintf(stderr, "allocmark: merge: %s\n", warning.c_str());
    inputs->push_back(std::move(in));
  }
  return inputs->empty() ? "name at least one run directory" : "";
}

// Same plan, distinct shards, no cell twice. Fills which input holds each shard index; returns
// why the inputs cannot be merged, or "".
std::string check_inputs_agree(const std::vector<Input>& inputs,
                               std::map<int, std::string>* shard_dirs) {
  const auto reference = plan_identity(inputs[0].meta);
  std::map<std::string, std::string> cell_dirs;
  for (const auto& in : inputs) {
    const auto id = plan_identity(in.meta);
    for (size_t i = 0; i < id.size(); ++i) {
      if (id[i].second != reference[i].second)
        return in.dir + " is not from the same plan as " + inputs[0].dir + ": " + id[i].first +
               " " + id[i].second.dump() + " vs " + reference[i].second.dump();
    }
    const json shard = in.meta.value("shard", json(nullptr));
    if (shard.is_object()) {
      const int k = shard.value("index", 0);
      auto [it, inserted] = shard_dirs->try_emplace(k, in.dir);
      if (!inserted) return in.dir + " and " + it->second + " are both shard " + std::to_string(k);
    }
    for (const auto& l : in.lines) {
      auto [it, inserted] = cell_dirs.try_emplace(cell_key(l), in.dir);
      if (!inserted && it->second != in.dir)
        return in.dir + " and " + it->second + " both hold cell " + cell_key(l);
    }
  }
  return "";
}

// One input's entry in the merged meta's "shards" list: where it ran, on what, and when.
json shard_entry(const Input& in) {
  const json shard = in.meta.value("shard", json(nullptr));
  return {{"dir", fs::absolute(in.dir).lexically_normal().string()},
          {"index", shard.is_object() ? shard["index"] : json(nullptr)},
          {"count", shard.is_object() ? shard["count"] : json(nullptr)},
          {"lines", in.lines.size()},
          {"workloads", in.meta["plan"].value("workloads", json::array())},
          {"command_line", in.meta.value("command_line", "")},
          {"started", in.meta.value("started", json(nullptr))},
          {"finished", in.meta.value("finished", json(nullptr))},
          {"git_revision", in.meta.value("git_revision", json(nullptr))},
          {"machine", in.meta.value("machine", json(nullptr))},
          {"harness_cost", in.meta.value("harness_cost", json(nullptr))}};
}

// The merged meta: the first shard's, with every shard's workloads, machine and times. Appends
// every input's result lines to *lines; *interrupted is whether any shard was interrupted.
json merged_meta(const std::vector<Input>& inputs, const std::string& merge_command_line,
                 std::vector<json>* lines, bool* interrupted) {
  json meta = inputs[0].meta;
  meta.erase("shard");
  meta.erase("harness_cost");
  json workloads = json::array(), shards = json::array(), dirs = json::array();
  std::string started, finished;
  bool all_finished = true, budget_reached = false;
  *interrupted = false;
  for (const auto& in : inputs) {
    for (const auto& w : in.meta["plan"].value("workloads", json::array())) workloads.push_back(w);
    const std::string s = in.meta.value("started", ""),
                      f = in.meta["finished"].is_string() ? in.meta["finished"].get<std::string>()
                                                          : "";
    if (started.empty() || (!s.empty() && s < started)) started = s;
    if (f.empty()) all_finished = false;
    if (f > finished) finished = f;
    *interrupted = *interrupted || in.meta.value("interrupted", false);
    const json rounds = in.meta.value("precision_rounds", json::object());
    // Each shard had its own budget; the summary's "time budget reached" applies if any hit it.
    if (rounds.is_object() && rounds.value("budget_reached", false)) budget_reached = true;
    shards.push_back(shard_entry(in));
    dirs.push_back(in.dir);
    lines->insert(lines->end(), in.lines.begin(), in.lines.end());
  }
  meta["plan"]["workloads"] = workloads;
  if (meta.contains("precision_rounds") && meta["precision_rounds"].is_object())
    meta["precision_rounds"]["budget_reached"] = budget_reached;
  meta["shards"] = shards;
  meta["merged_from"] = dirs;
  meta["merge_command_line"] = merge_command_line;
  meta["started"] = started;
  meta["finished"] = all_finished ? json(finished) : json(nullptr);
  return meta;
}

// Shards of K/N that no input holds: recorded in meta ("shards_missing") and warned about.
void note_missing_shards(const json& first_meta, const std::map<int, std::string>& shard_dirs,
                         json* meta) {
  json count;
  for (const auto& [label, value] : plan_identity(first_meta))
    if (label == "shard count") count = value;
  if (!count.is_number_integer()) return;
  json missing = json::array();
  for (int k = 1; k <= count.get<int>(); ++k)
    if (!shard_dirs.count(k)) missing.push_back(k);
  (*meta)["shards_missing"] = missing;
  if (!missing.empty())
    std::fprintf(stderr, "allocmark: merge: shard(s) %s of %d missing; merged the rest\n",
                 missing.dump().c_str(), count.get<int>());
}

}  // namespace

int merge_runs(const MergeOptions& o) {
  if (o.out_dir.empty()) return refuse("-o DIR is required");
  if (fs::exists(o.out_dir + "/results.jsonl") || fs::exists(o.out_dir + "/meta.json"))
    return refuse("-o " + o.out_dir + " already holds a run; choose another directory");
  std::vector<Input> inputs;
  if (std::string why = load_inputs(o, &inputs); !why.empty()) return refuse(why);
  std::map<int, std::string> shard_dirs;
  if (std::string why = check_inputs_agree(inputs, &shard_dirs); !why.empty()) return refuse(why);

  std::vector<json> lines;
  bool interrupted = false;
  json meta = merged_meta(inputs, o.command_line, &lines, &interrupted);
  note_missing_shards(inputs[0].meta, shard_dirs, &meta);

  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec) return refuse("cannot create " + o.out_dir + ": " + ec.message());
  std::string error;
  if (!write_lines(o.out_dir + "/results.jsonl", lines, &error) ||
      !write_json_file(o.out_dir + "/meta.json", meta, &error))
    return refuse(error);
  if (!o.quiet)
    std::fprintf(stderr, "allocmark: merged %zu line(s) from %zu run(s) into %s\n", lines.size(),
                 inputs.size(), o.out_dir.c_str());
  FinishOptions finish;
  finish.quiet = o.quiet;
  finish.report = o.report;
  finish.interrupted = false;
  meta["interrupted_shards"] = interrupted;
  return finish_run_directory(o.out_dir, meta, finish);
}

}  // namespace allocmark
