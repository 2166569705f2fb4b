// `allocmark record -o FILE [--no-children] [--] CMD ARGS...`: runs a program with the recording
// library preloaded, converting its raw files into traces while they are written.
// Layer: harness (uses workloads/).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace allocmark {

class RecordCommand {
 public:
  void add_to(CLI::App& app);
  bool selected() const;
  // Exit status: the program's (128 + signal if it was killed), 127 if it could not be started,
  // 2 on bad flags or a recording that could not be converted.
  int run();

 private:
  std::vector<std::string> command_words();
  std::string make_raw_dir();

  CLI::App* cmd_ = nullptr;
  std::string out_, program_;
  bool no_children_ = false;
  int level_ = 3;
};

}  // namespace allocmark
