// glibc-thread: each thread keeps a working set of slots and replaces a random one per step with
// a block of inverse-square distributed size. Layer: workloads. Per-thread caches, small sizes.
#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark::gen {
namespace {

bool generate(const GeneratorArgs& args, ParamReader& p, Trace* trace, std::string* error) {
  SlotParams sp;
  if (!read_slot_params(p, &sp, error)) return false;
  const uint64_t steps = sp.steps, slots = sp.slots;
  const uint64_t min_size = sp.min_size, max_size = sp.max_size;
  if (!check_events(sat_mul(args.threads, sat_add(sat_mul(steps, 2), slots)), error)) return false;
  Emitter e(args.threads);
  std::vector<SlotThread> st = slot_threads(args, slots);
  // bench-malloc-thread starts with empty slots and frees whatever a slot held before refilling
  // it, so the working set fills up over the first steps.
  interleave(e, args.threads, 64, [&](uint32_t t) {
    SlotThread& s = st[t];
    if (s.step++ >= steps) {
      e.free_slots(t, s.slot);
      return false;
    }
    uint32_t& obj = s.slot[s.rng.below(slots)];
    if (obj != kNoObject) e.free(t, obj);
    obj = e.malloc(t, s.rng.inverse_square(min_size, max_size));
    return true;
  });
  return e.finish(trace, error);
}

}  // namespace

Generator glibc_thread_generator() {
  return {"glibc-thread",
          "per-thread working set; each step frees a random slot and refills it with a size "
          "drawn with density 1/size^2 between 4 and 32768 bytes",
          "glibc benchtests bench-malloc-thread (mimalloc-bench glibc-thread)",
          {{"steps", "500000", "replacements per thread"},
           {"slots", "1024", "working-set slots per thread"},
           {"min_size", "4", "smallest request in bytes"},
           {"max_size", "32768", "largest request in bytes"}},
          true,
          generate};
}

}  // namespace allocmark::gen
