// churn: a working set of equal-size objects where a random slot is replaced at every step.
// Layer: workloads. The pool allocator's best case: one size class, LIFO-ish reuse, no growth.
#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark::gen {
namespace {

bool generate(const GeneratorArgs& args, ParamReader& p, TraceOutput* out, std::string* error) {
  const uint64_t slots = p.u64("slots"), size = p.u64("size"), steps = p.u64("steps");
  if (!check_params(p, error) || !check_positive(slots, "slots", error) ||
      !check_size_range(size, size, "size", "size", error) ||
      !check_events(sat_mul(args.threads, sat_add(sat_mul(2, slots), sat_mul(2, steps))), error))
    return false;
  const uint32_t threads = args.threads;
  Emitter e(out, threads);
  struct State {
    Rng rng;
    std::vector<uint32_t> slot;
    uint64_t step = 0;
  };
  std::vector<State> st;
  for (uint32_t t = 0; t < threads; ++t) st.push_back({Rng(args.seed, t), {}, 0});
  // Fill, churn, then empty the working set; each step is one free and one malloc.
  interleave(e, threads, 64, [&](uint32_t t) {
    State& s = st[t];
    if (s.slot.size() < slots) {
      s.slot.push_back(e.malloc(t, size));
      return true;
    }
    if (s.step < steps) {
      ++s.step;
      uint32_t& victim = s.slot[s.rng.below(slots)];
      e.free(t, victim);
      victim = e.malloc(t, size);
      return true;
    }
    if (s.step++ < steps + slots) {
      e.free(t, s.slot[s.step - steps - 1]);
      return true;
    }
    return false;
  });
  return e.finish(error);
}

}  // namespace

Generator churn_generator() {
  return {"churn",
          "fixed-size churn: N live slots of one size, a random slot freed and reallocated each "
          "step (pool-friendly); independent working set per thread",
          "classic fixed-size object churn (the pool allocator's target pattern)",
          {{"slots", "1000", "live objects per thread"},
           {"size", "64", "bytes per object"},
           {"steps", "500000", "replacements per thread (one free + one malloc each)"}},
          true,
          generate};
}

}  // namespace allocmark::gen
