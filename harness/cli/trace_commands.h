// `allocmark trace info|validate|convert|gen`: the trace tools on the command line.
// Layer: harness/cli (uses workloads/ only).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace allocmark {

class TraceCommands {
 public:
  void add_to(CLI::App& app);
  bool selected() const;
  int run();  // exit status: 0 ok, 1 trace refused by validate, 2 bad input

 private:
  int info();
  int validate();
  int convert();
  int gen();

  CLI::App* trace_ = nullptr;
  CLI::App* info_ = nullptr;
  CLI::App* validate_ = nullptr;
  CLI::App* convert_ = nullptr;
  CLI::App* gen_ = nullptr;
  std::string file_, from_ = "amt", to_ = "amt", in_, out_, gen_name_;
  bool json_ = false;
  std::vector<std::string> params_;
  uint32_t threads_ = 1;
  uint64_t seed_ = 42;
  int level_ = 19;     // convert: smallest files
  int gen_level_ = 3;  // gen: fast enough to write 20 M+ events per second
};

}  // namespace allocmark
