// alloc-test: slots picked with an 80/20 (Pareto) skew; a pick allocates a power-law size into
// an empty slot or frees a full one. Layer: workloads. (alloctest.cc: *_test.cc means a test.)
#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark::gen {
namespace {

// 80 % of picks go to the first 20 % of the range, applied recursively `levels` deep: a few hot
// slots churn constantly (short lifetimes) while most live long, like the real programs the
// original alloc-test imitates. Integer-only so it is identical everywhere.
uint64_t pareto_slot(Rng& r, uint64_t n, int levels) {
  uint64_t lo = 0, width = n;
  for (int i = 0; i < levels && width >= 5; ++i) {
    const uint64_t hot = width / 5;
    if (r.chance(80, 100)) {
      width = hot;
    } else {
      lo += hot;
      width -= hot;
      break;
    }
  }
  return lo + r.below(width);
}

bool generate(const GeneratorArgs& args, ParamReader& p, TraceOutput* out, std::string* error) {
  SlotParams sp;
  if (!read_slot_params(p, &sp, error) ||
      !check_events(sat_mul(args.threads, sat_add(sp.steps, sp.slots)), error))
    return false;
  Emitter e(out, args.threads);
  run_slot_threads(e, args, sp, [&](uint32_t t, SlotThread& s) {
    uint32_t& obj = s.slot[pareto_slot(s.rng, sp.slots, 6)];
    if (obj == kNoObject) {
      // Power law: an octave by a geometric draw (each larger octave half as likely), then
      // log-uniform inside it: small sizes dominate, large ones still appear.
      uint64_t lo = sp.min_size;
      while (lo < sp.max_size / 2 && s.rng.chance(1, 2)) lo *= 2;
      obj = e.malloc(t, s.rng.log_uniform(lo, std::min(sp.max_size, lo * 2)));
    } else {
      e.free(t, obj);
      obj = kNoObject;
    }
  });
  return e.finish(error);
}

}  // namespace

Generator alloc_test_generator() {
  return {"alloc-test",
          "random slot toggling with Pareto (80/20, recursive) slot selection and power-law "
          "sizes; independent per thread",
          "alloc-test (node-dot-cpp alloc-test; mimalloc-bench alloc-test1/alloc-testN)",
          slot_param_list({"1000000", "slot picks per thread (each one malloc or one free)"},
                          {"100000", "slots per thread"}, {"8", "smallest request in bytes"},
                          {"64K", "largest request in bytes"}),
          true,
          generate};
}

}  // namespace allocmark::gen
