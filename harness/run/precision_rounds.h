// Which cells of a run still need repetitions to reach `run --precision P`: the bookkeeping of
// the extra rounds after --reps. Layer: harness (parent side), no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

namespace allocmark {

// Not thread-safe (the runner owns one); never throws on odd lines (missing fields count as a
// failed repetition of a cell named by what is there).
class PrecisionTracker {
 public:
  // target: relative half-width of the time median's 95 % interval (see relative_half_width);
  // 0 turns the rounds off. max_reps: repetitions per cell, failed ones included.
  PrecisionTracker(double target, int max_reps, double level = 0.95)
      : target_(target), max_reps_(max_reps), level_(level) {}

  // One measured result line (warm-ups are not lines). Lines loaded on --resume count too.
  void add(const nlohmann::json& line);

  // Whether the cell gets another repetition: a target is set, it is below max_reps lines, none
  // of its repetitions failed (a crash or timeout is behaviour, not noise: repeating it costs up
  // to --timeout each and tightens nothing), and its interval is not yet within the target.
  bool needs_more(const std::string& workload, uint32_t threads,
                  const std::string& allocator) const;

  // Cells that need more, over every cell seen (the runner stops when none does).
  size_t cells_needing_more() const;

  // Cells whose interval is not (yet) within the target, whatever the reason (0 without one).
  size_t cells_short_of_target() const;

 private:
  struct State {
    std::vector<double> ns;  // ok repetitions' ns_per_op
    size_t lines = 0;
    bool failed = false;
  };
  using Key = std::tuple<std::string, uint32_t, std::string>;
  bool within_target(const State& s) const;
  bool state_needs_more(const State& s) const;

  double target_;
  int max_reps_;
  double level_;
  std::map<Key, State> cells_;
};

}  // namespace allocmark
