// Locating and invoking the Python plot tools. Layer: harness.
#include "harness/run/python_tools.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "base/subprocess.h"
#include "harness/run/layout.h"

namespace allocmark {
namespace {

// Runs argv (no shell: a path with quotes or spaces is one word) with its output discarded;
// returns the exit status, 2 when it could not run.
int run_quietly(const std::vector<std::string>& args) {
  ProcessSpec spec;
  spec.argv = args;
  spec.quiet = true;
  const ProcessResult r = run_process(spec);
  return r.started && WIFEXITED(r.wait_status) ? WEXITSTATUS(r.wait_status) : 2;
}

bool can_plot(const std::string& python) {
  return run_quietly({python, "-c", "import matplotlib, numpy, scipy"}) == 0;
}

}  // namespace

std::string find_plot_python(std::string* error) {
  if (const char* p = std::getenv("ALLOCMARK_PYTHON")) {
    if (can_plot(p)) return p;
    *error = std::string("ALLOCMARK_PYTHON=") + p + " cannot import matplotlib, numpy and scipy";
    return "";
  }
  std::vector<std::string> candidates;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    std::string dir;
    while (std::getline(ss, dir, ':'))
      if (!dir.empty()) candidates.push_back(dir + "/python3");
  }
  candidates.insert(candidates.end(), {"/usr/bin/python3", "/usr/local/bin/python3"});
  for (const auto& c : candidates)
    if (access(c.c_str(), X_OK) == 0 && can_plot(c)) return c;
  *error =
      "no python3 here can import matplotlib, numpy and scipy "
      "(apt-get install python3-matplotlib python3-numpy python3-scipy)";
  return "";
}

int run_plot_tool(const std::string& script, const std::vector<std::string>& args) {
  std::string error;
  const std::string python = find_plot_python(&error);
  if (python.empty()) {
    std::fprintf(stderr, "allocmark: %s\n", error.c_str());
    return 2;
  }
  ProcessSpec spec;
  spec.argv = {python, plot_dir() + "/" + script};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  // The plot tools ask this binary to (re)write a summary.json they cannot use as it is: the
  // statistics are computed in C++ only.
  spec.set_env = {"ALLOCMARK_BIN=" + executable_dir() + "/allocmark"};
  const ProcessResult r = run_process(spec);
  if (!r.started) {
    std::fprintf(stderr, "allocmark: %s\n", r.error.c_str());
    return 2;
  }
  return WIFEXITED(r.wait_status) ? WEXITSTATUS(r.wait_status) : 2;
}

}  // namespace allocmark
