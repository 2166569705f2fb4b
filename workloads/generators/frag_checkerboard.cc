// frag-checkerboard: the fragmentation adversary; fill with N objects, free every other one, then
// ask for objects too large for the holes, round after round. Layer: workloads.
#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark::gen {
namespace {

bool generate(const GeneratorArgs& args, ParamReader& p, TraceOutput* out, std::string* error) {
  const uint64_t count = p.u64("count"), rounds = p.u64("rounds"), size = p.u64("size");
  const uint64_t growth = p.u64("growth");
  if (!check_params(p, error) || !check_positive(size, "size", error) ||
      !check_size_range(size, size, "size", "size", error) ||
      !check_events(sat_mul(rounds, sat_mul(count, 2)), error))
    return false;
  if (growth < 2) return fail(error, "param 'growth' must be at least 2 (larger than the holes)");
  Emitter e(out, 1);
  Rng rng(args.seed);
  std::vector<uint32_t> survivors, round;
  uint64_t s = size;
  for (uint64_t r = 0; r < rounds && e.ok(); ++r) {
    if (s > kMaxSize) return fail(error, "param 'growth': sizes pass 1T within the rounds");
    // Every round's requests are `growth` times the last round's, so no request fits a hole left
    // by a previous round unless the allocator coalesces neighbours; live bytes stay at half of
    // what the heap had to map. The seed jitters sizes inside one 16-byte class.
    round.clear();
    for (uint64_t i = 0; i < count; ++i) round.push_back(e.malloc(0, s + rng.below(16)));
    for (uint64_t i = 0; i < count; ++i) {
      if (i % 2)
        e.free(0, round[i]);
      else
        survivors.push_back(round[i]);
    }
    s = sat_mul(s, growth);
  }
  for (uint32_t obj : survivors) e.free(0, obj);
  return e.finish(error);
}

}  // namespace

Generator frag_checkerboard_generator() {
  return {"frag-checkerboard",
          "fragmentation adversary: allocate N objects, free every other one, then allocate N "
          "objects `growth` times larger, repeated; survivors pin every hole",
          "Robson-style worst-case fragmentation patterns (Wilson et al., 'Dynamic Storage "
          "Allocation: A Survey', 1995)",
          {{"count", "100000", "objects allocated per round"},
           {"rounds", "5", "rounds, each with larger objects"},
           {"size", "16", "object size of the first round in bytes"},
           {"growth", "2", "factor between rounds' sizes (>= 2)"}},
          false,
          generate};
}

}  // namespace allocmark::gen
