// phase-reset: request-scoped allocation; each request allocates a tree of objects, frees a few
// early, and releases the rest at once at its phase end. Layer: workloads. Arena-friendly.
#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark::gen {
namespace {

bool generate(const GeneratorArgs& args, ParamReader& p, TraceOutput* out, std::string* error) {
  const uint64_t requests = p.u64("requests"), objects = p.u64("objects");
  const uint64_t min_size = p.u64("min_size"), max_size = p.u64("max_size");
  const uint64_t early = p.u64("early_free_percent");
  if (!check_params(p, error) || !check_positive(objects, "objects", error) ||
      !check_positive(min_size, "min_size", error) ||
      !check_size_range(min_size, max_size, "min_size", "max_size", error) ||
      !check_events(sat_mul(args.threads, sat_mul(requests, sat_add(sat_mul(objects, 2), 1))),
                    error))
    return false;
  if (early > 100) return fail(error, "param 'early_free_percent' must be at most 100");
  Emitter e(out, args.threads);
  struct State {
    Rng rng;
    uint64_t request = 0, object = 0;
    std::vector<uint32_t> live;
  };
  std::vector<State> st;
  for (uint32_t t = 0; t < args.threads; ++t) st.push_back({Rng(args.seed, t), 0, 0, {}});
  // One step = one allocation (plus maybe one early free of an object of the same request, the
  // temporaries a handler drops before it answers); the request ends with phase_end, which frees
  // the survivors as kFlagPhaseFree frees that an arena skips.
  interleave(e, args.threads, 64, [&](uint32_t t) {
    State& s = st[t];
    if (s.request >= requests) return false;
    s.live.push_back(e.malloc(t, s.rng.log_uniform(min_size, max_size)));
    if (s.rng.chance(early, 100)) {
      const size_t i = s.rng.below(s.live.size());
      e.free(t, s.live[i]);
      s.live[i] = s.live.back();
      s.live.pop_back();
    }
    if (++s.object == objects) {
      e.phase_end(t);
      s.live.clear();
      s.object = 0;
      ++s.request;
    }
    return true;
  });
  return e.finish(error);
}

}  // namespace

Generator phase_reset_generator() {
  return {"phase-reset",
          "per-request phases: each request allocates objects of log-uniform sizes, frees some "
          "early, and releases the rest at a phase end (arena-friendly); independent per thread",
          "request-scoped servers (Apache pools, protobuf arenas); the arena allocator's target",
          {{"requests", "5000", "requests (phases) per thread"},
           {"objects", "100", "allocations per request"},
           {"min_size", "16", "smallest request in bytes"},
           {"max_size", "512", "largest request in bytes"},
           {"early_free_percent", "20",
            "chance in percent that an allocation is followed by an "
            "individual free of an object of the same request"}},
          true,
          generate};
}

}  // namespace allocmark::gen
