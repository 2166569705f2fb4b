// `allocmark run`: its flags, checked and turned into RunOptions (harness/run/runner.h), and the
// workload plan from --suite, --workloads, --trace and --program. Layer: harness (cli).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "harness/run/runner.h"

namespace allocmark {

class RunCommand {
 public:
  void add_to(CLI::App& app);
  bool selected() const { return cmd_ && cmd_->parsed(); }
  // The runner's exit status, or 2 after one line on stderr for a bad flag.
  int run(const std::string& command_line);

 private:
  void add_plan_options();
  void add_measure_options();
  void add_statistics_options();
  bool read_threads(std::vector<uint32_t>* threads) const;
  bool read_shard_and_limits();
  bool read_alloc_options();
  bool read_variants();
  bool read_programs();
  bool plan_workloads(const std::vector<uint32_t>& threads);

  CLI::App* cmd_ = nullptr;
  RunOptions run_;
  std::string allocator_list_, workload_list_, suite_, threads_list_, mem_limit_, resume_dir_,
      shard_;
  std::vector<std::string> trace_files_, alloc_options_, allocator_flags_, program_flags_,
      alloc_env_flags_, sweep_flags_;
  bool no_pin_ = false, no_report_ = false, no_aa_ = false, validate_ = false;
};

}  // namespace allocmark
