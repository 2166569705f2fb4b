// Locating and invoking the Python plot tools. Layer: harness.
#include "harness/run/python_tools.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <vector>
#include <sstream>

namespace allocmark {
namespace {

// Runs argv (no shell: a path with quotes or spaces is one word) and waits; returns the exit
// status, 2 when it could not run or died of a signal. quiet: stdout and stderr to /dev/null.
int run_and_wait(const std::vector<std::string>& args, bool quiet) {
  std::vector<char*> argv;
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    if (quiet) {  // async-signal-safe calls only between fork and exec
      const int null_fd = open("/dev/null", O_WRONLY);
      if (null_fd >= 0) dup2(null_fd, 1), dup2(null_fd, 2);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0) return 2;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

bool can_plot(const std::string& python) {
  return run_and_wait({python, "-c", "import matplotlib, numpy, scipy"}, /*quiet=*/true) == 0;
}

std::string plot_dir() {
  if (const char* d = std::getenv("ALLOCMARK_PLOT_DIR")) return d;
  return std::string(ALLOCMARK_SOURCE_DIR) + "/plot";
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
  std::vector<std::string> argv{python, plot_dir() + "/" + script};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_and_wait(argv, /*quiet=*/false);
}

}  // namespace allocmark
