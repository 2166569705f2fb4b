// glibc-thread: each thread keeps a working set of slots and replaces a random one per step with
// a block of inverse-square distributed size. Layer: workloads. Per-thread caches, small sizes.
#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark::gen {
namespace {

bool generate(const GeneratorArgs& args, ParamReader& p, TraceOutput* out, std::string* error) {
  SlotParams sp;
  if (!read_slot_params(p, &sp, error) ||
      !check_events(sat_mul(args.threads, sat_add(sat_mul(sp.steps, 2), sp.slots)), error))
    return false;
  Emitter e(out, args.threads);
  // bench-malloc-thread starts with empty slots and frees whatever a slot held before refilling
  // it, so the working set fills up over the first steps.
  run_slot_threads(e, args, sp, [&](uint32_t t, SlotThread& s) {
    uint32_t& obj = s.slot[s.rng.below(sp.slots)];
    if (obj != kNoObject) e.free(t, obj);
    obj = e.malloc(t, s.rng.inverse_square(sp.min_size, sp.max_size));
  });
  return e.finish(error);
}

}  // namespace

Generator glibc_thread_generator() {
  return {"glibc-thread",
          "per-thread working set; each step frees a random slot and refills it with a size "
          "drawn with density 1/size^2 between 4 and 32768 bytes",
          "glibc benchtests bench-malloc-thread (mimalloc-bench glibc-thread)",
          slot_param_list(
              {"500000", "replacements per thread"}, {"1024", "working-set slots per thread"},
              {"4", "smallest request in bytes"}, {"32768", "largest request in bytes"}),
          true,
          generate};
}

}  // namespace allocmark::gen
