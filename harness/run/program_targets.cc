// Program preparation (harness/run/program_targets.h). Layer: harness (run).
#include "harness/run/program_targets.h"

#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "base/subprocess.h"
#include "harness/program/program_cell.h"

namespace allocmark {
namespace {

namespace fs = std::filesystem;

// The C library this process runs on (what "glibc" means here), by the loader's own name for it.
std::string system_libc() {
  static const std::string path = [] {
    std::string found;
    void* h = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    link_map* map = nullptr;
    if (h && dlinfo(h, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name) found = map->l_name;
    if (h) dlclose(h);
    return found;
  }();
  return path;
}

// Whether argv[0] can be executed: a path that is executable, or a name found in PATH.
bool findable(const std::string& program) {
  if (program.find('/') != std::string::npos) return access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t colon = dirs.find(':', start);
    std::string dir = dirs.substr(start, colon - start);
    if (dir.empty()) dir = ".";
    if (access((dir + "/" + program).c_str(), X_OK) == 0) return true;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return false;
}

std::string joined(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
  return s;
}

// One setup or teardown command in the work folder; "" when it succeeded, else why not.
std::string run_step(const std::vector<std::string>& words, const ProgramTarget& t,
                     double timeout_s) {
  ProcessSpec spec;
  for (const auto& w : words)
    spec.argv.push_back(expand_placeholders(w, t.dir, t.spec->suite_dir, 0));
  spec.cwd = t.dir;
  spec.null_stdin = true;
  spec.capture = {Capture(1, 4096), Capture(2, 4096)};
  spec.unset_env = {"LD_PRELOAD"};
  spec.own_process_group = true;
  spec.die_with_parent = true;
  spec.timeout_s = timeout_s;
  const ProcessResult r = run_process(spec);
  if (!r.started) return r.error;
  if (r.timed_out) return "'" + joined(spec.argv) + "' timed out";
  if (exit_code(r.wait_status) == 0) return {};
  std::string tail = r.output.count(2) ? r.output.at(2) : "";
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
  if (const size_t nl = tail.rfind('\n'); nl != std::string::npos) tail.erase(0, nl + 1);
  return "'" + joined(spec.argv) + "' exited " + std::to_string(exit_code(r.wait_status)) +
         (tail.empty() ? "" : ": " + tail);
}

// The reference output: the program once under glibc, nothing preloaded.
void make_reference(ProgramTarget* t, double timeout_s) {
  ProgramRun run;
  run.spec = t->spec;
  run.dir = t->dir;
  run.output_path = t->dir + "/reference.out";
  run.preload = system_libc();  // as glibc's cells have it
  run.is_glibc = true;
  run.is_reference = true;
  run.timeout_s = timeout_s;
  const auto line = run_program(run);
  if (line.value("status", "") == "ok") {
    t->reference_output = run.output_path;
  } else {
    t->reference_error = "the reference run under glibc ended " + line.value("status", "?") + ": " +
                         line.value("detail", "");
  }
}

}  // namespace

bool prepare_programs(const std::vector<ProgramSpec>& specs, const std::string& run_dir,
                      double timeout_s, bool quiet, std::vector<ProgramTarget>* out) {
  std::error_code ec;
  for (const ProgramSpec& spec : specs) {
    for (const auto* words : {&spec.command, &spec.driver}) {
      if (words->empty() || words->front().find('{') != std::string::npos) continue;
      if (!findable(words->front())) {
        std::fprintf(stderr, "allocmark: program '%s': '%s' is not an executable file or on PATH\n",
                     spec.name.c_str(), words->front().c_str());
        return false;
      }
    }
    ProgramTarget t;
    t.spec = &spec;
    t.dir =
        fs::absolute(fs::path(run_dir) / "programs" / spec.name, ec).lexically_normal().string();
    fs::create_directories(t.dir, ec);
    if (ec) {
      std::fprintf(stderr, "allocmark: program '%s': cannot create %s: %s\n", spec.name.c_str(),
                   t.dir.c_str(), ec.message().c_str());
      return false;
    }
    if (!quiet && !spec.setup.empty())
      std::fprintf(stderr, "allocmark: program '%s': setup (%zu command(s))\n", spec.name.c_str(),
                   spec.setup.size());
    for (const auto& step : spec.setup) {
      if (const std::string why = run_step(step, t, timeout_s); !why.empty()) {
        std::fprintf(stderr, "allocmark: program '%s': setup %s\n", spec.name.c_str(), why.c_str());
        return false;
      }
    }
    if (spec.check_output) make_reference(&t, timeout_s);
    out->push_back(std::move(t));
  }
  return true;
}

void teardown_programs(const std::vector<ProgramTarget>& programs, double timeout_s) {
  for (const ProgramTarget& t : programs)
    for (const auto& step : t.spec->teardown)
      if (const std::string why = run_step(step, t, timeout_s); !why.empty())
        std::fprintf(stderr, "allocmark: warning: program '%s': teardown %s\n",
                     t.spec->name.c_str(), why.c_str());
}

bool program_preload(const AllocatorInfo& a, std::string* library, std::string* why_not) {
  const std::string& name = a.worker_name.empty() ? a.name : a.worker_name;
  if (a.kind == "preload") {
    // glibc too is preloaded into a program: redis, for one, links jemalloc, and only a libc
    // ahead of it in the search order makes glibc serve its malloc.
    *library = a.library.empty() ? system_libc() : a.library;
    return true;
  }
  if (a.kind == "native") {
    for (const auto& b : builtin_allocators()) {
      if (b.name == name + "-malloc" && b.available) {
        *library = b.library;
        return true;
      }
    }
  }
  *why_not = "'" + a.name + "' has no malloc interface to preload into a program" +
             (a.kind == "plugin" ? " (plugins serve replays only)" : "");
  return false;
}

bool split_command_words(const std::string& text, std::vector<std::string>* words,
                         std::string* error) {
  words->clear();
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words->push_back(word);
      word.clear();
      in_word = false;
    } else if (c == '\'') {
      const size_t close = text.find('\'', i + 1);
      if (close == std::string::npos) return *error = "unterminated ' quote", false;
      word += text.substr(i + 1, close - i - 1);
      i = close;
      in_word = true;
    } else if (c == '"') {
      size_t j = i + 1;
      for (; j < text.size() && text[j] != '"'; ++j) {
        if (text[j] == '\\' && j + 1 < text.size() &&
            std::string("\"\\$`\n").find(text[j + 1]) != std::string::npos)
          ++j;
        word += text[j];
      }
      if (j >= text.size()) return *error = "unterminated \" quote", false;
      i = j;
      in_word = true;
    } else if (c == '\\') {
      if (i + 1 < text.size()) word += text[++i];
      in_word = true;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words->push_back(word);
  if (words->empty()) return *error = "no command", false;
  return true;
}

}  // namespace allocmark
