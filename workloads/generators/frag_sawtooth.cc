// frag-sawtooth: grow the heap, free 90 % of it at random, grow again; the survivors scatter
// over the whole heap and the peak keeps rising. Layer: workloads. Measures RSS return to the OS.
#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark::gen {
namespace {

bool generate(const GeneratorArgs& args, ParamReader& p, TraceOutput* out, std::string* error) {
  const uint64_t count = p.u64("count"), rounds = p.u64("rounds");
  const uint64_t min_size = p.u64("min_size"), max_size = p.u64("max_size");
  const uint64_t free_percent = p.u64("free_percent");
  if (!check_params(p, error) || !check_positive(min_size, "min_size", error) ||
      !check_size_range(min_size, max_size, "min_size", "max_size", error) ||
      !check_events(sat_mul(rounds, sat_mul(count, 2)), error))
    return false;
  if (free_percent > 100) return fail(error, "param 'free_percent' must be at most 100");
  Emitter e(out, 1);
  Rng rng(args.seed);
  std::vector<uint32_t> live, keep;
  for (uint64_t r = 0; r < rounds && e.ok(); ++r) {
    for (uint64_t i = 0; i < count; ++i)
      live.push_back(e.malloc(0, rng.log_uniform(min_size, max_size)));
    // Free each live object with probability free_percent, old survivors included, in
    // allocation order (the order a cache eviction or GC sweep would use).
    keep.clear();
    for (uint32_t obj : live) {
      if (rng.chance(free_percent, 100))
        e.free(0, obj);
      else
        keep.push_back(obj);
    }
    live.swap(keep);
  }
  for (uint32_t obj : live) e.free(0, obj);
  return e.finish(error);
}

}  // namespace

Generator frag_sawtooth_generator() {
  return {"frag-sawtooth",
          "sawtooth: allocate N objects, free 90 % of all live objects at random, repeat; the "
          "10 % survivors scatter across the heap",
          "caches and GC-like programs with bursty growth; fragmentation studies (Johnstone & "
          "Wilson, ISMM'98)",
          {{"count", "100000", "objects allocated per round"},
           {"rounds", "5", "grow/free cycles"},
           {"min_size", "16", "smallest object in bytes"},
           {"max_size", "1024", "largest object in bytes (log-uniform)"},
           {"free_percent", "90", "chance in percent that a live object is freed each round"}},
          false,
          generate};
}

}  // namespace allocmark::gen
