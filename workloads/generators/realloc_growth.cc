// realloc-growth: growing buffers; half grow like std::vector (doubling), half like a string being
// appended to (small steps), each freed and restarted once past max_size. Layer: workloads.
#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark::gen {
namespace {

bool generate(const GeneratorArgs& args, ParamReader& p, TraceOutput* out, std::string* error) {
  const uint64_t steps = p.u64("steps"), buffers = p.u64("buffers");
  const uint64_t min_size = p.u64("min_size"), max_size = p.u64("max_size");
  const uint64_t append = p.u64("max_append");
  if (!check_params(p, error) || !check_positive(buffers, "buffers", error) ||
      !check_positive(min_size, "min_size", error) ||
      !check_positive(append, "max_append", error) ||
      !check_size_range(min_size, max_size, "min_size", "max_size", error) ||
      !check_events(sat_mul(args.threads, sat_add(sat_mul(steps, 2), buffers)), error))
    return false;
  Emitter e(out, args.threads);
  struct State {
    Rng rng;
    std::vector<uint32_t> buf;
    uint64_t step = 0;
  };
  std::vector<State> st;
  for (uint32_t t = 0; t < args.threads; ++t)
    st.push_back({Rng(args.seed, t), std::vector<uint32_t>(buffers, kNoObject)});
  interleave(e, args.threads, 64, [&](uint32_t t) {
    State& s = st[t];
    if (s.step++ >= steps) {
      e.free_slots(t, s.buf);
      return false;
    }
    const uint64_t i = s.rng.below(buffers);
    uint32_t& obj = s.buf[i];
    if (obj == kNoObject) {
      // A buffer starts life as realloc(NULL, n), the way growable C buffers usually do.
      obj = e.realloc_from_null(t, min_size);
      return true;
    }
    const uint64_t size = e.size_of(obj);
    // Even slots are vectors (capacity doubles), odd slots strings (append a few bytes): the
    // first stresses copying and large-size classes, the second in-place growth.
    const uint64_t grown = (i % 2 == 0) ? size * 2 : size + s.rng.range(1, append);
    if (grown > max_size) {
      e.free(t, obj);
      obj = kNoObject;
    } else {
      e.realloc(t, obj, grown);
    }
    return true;
  });
  return e.finish(error);
}

}  // namespace

Generator realloc_growth_generator() {
  return {"realloc-growth",
          "growing buffers: realloc(NULL) then repeated realloc, doubling (vector-like) or "
          "appending a few bytes (string-like), freed and restarted past max_size",
          "realloc-heavy programs (string builders, growable arrays); no single mimalloc-bench "
          "equivalent",
          {{"steps", "1000000", "realloc steps per thread"},
           {"buffers", "200", "buffers growing at once per thread"},
           {"min_size", "16", "first size of a buffer in bytes"},
           {"max_size", "256K", "a buffer is freed when it would grow past this"},
           {"max_append", "64", "largest append to a string-like buffer in bytes"}},
          true,
          generate};
}

}  // namespace allocmark::gen
