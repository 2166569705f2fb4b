// Locating and invoking the Python plot tools. Layer: harness.
#include "harness/python_tools.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace allocmark {
namespace {

bool can_plot(const std::string& python) {
  const std::string cmd = "'" + python + "' -c 'import matplotlib, numpy, scipy' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
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
  const std::string path = plot_dir() + "/" + script;
  std::vector<std::string> argv_s{python, path};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    execv(python.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0) return 2;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

}  // namespace allocmark
