// A real program as a workload: what `allocmark run --program` and a suite's [[program]] table
// describe. Layer: workloads (data only; harness/program/ runs it).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace allocmark {

// Words may hold placeholders, expanded when the program runs: {dir} (the program's work
// folder in the run directory), {suite_dir} (the folder of the suite file), {port} (a free
// loopback port, chosen anew for every repetition).
struct ProgramSpec {
  std::string name;  // the workload name in results
  std::string description;
  std::vector<std::string> command;  // argv; argv[0] looked up in PATH; no shell
  // Service form: `command` is a server (preloaded), `driver` the client run against it (not
  // preloaded) once the server accepts connections on 127.0.0.1:{port}; when the driver exits
  // the server is stopped. Empty: `command` alone is the program.
  std::vector<std::string> driver;
  std::string stdin_file;  // fed on stdin; relative to {dir}
  std::string cwd;         // "" = {dir}
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<std::vector<std::string>> setup;     // once before the first cell, in {dir}
  std::vector<std::vector<std::string>> teardown;  // once after the last cell
  int expect_exit = 0;
  bool check_output = false;     // stdout must equal the reference run's (glibc, nothing preloaded)
  std::string throughput_regex;  // first capture group of the first match in stdout + stderr
  std::string throughput_unit;
  double timeout_s = 0;  // 0: the run's --timeout
  bool multi_threaded = false;
  std::string suite_dir;  // {suite_dir}
  uint32_t line = 0;      // where the table starts in its suite, for messages
};

// "{dir}" etc. replaced in one word; unknown placeholders are left as written.
std::string expand_placeholders(const std::string& word, const std::string& dir,
                                const std::string& suite_dir, int port);

// Whether a word of the program (command or driver) names {port}.
bool program_uses_port(const ProgramSpec& p);

}  // namespace allocmark
