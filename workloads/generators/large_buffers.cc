// large-buffers: a handful of slots holding 5-25 MiB buffers, one random slot replaced per step.
// Layer: workloads. Exercises the allocator's large-object path: mmap thresholds, page reuse.
#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark::gen {
namespace {

bool generate(const GeneratorArgs& args, ParamReader& p, TraceOutput* out, std::string* error) {
  SlotParams sp;
  if (!read_slot_params(p, &sp, error) ||
      !check_events(sat_mul(2, sat_add(sp.steps, sp.slots)), error))
    return false;
  if (sp.slots > 4096)
    return fail(error, "param 'slots' must be at most 4096 (each is a large buffer)");
  Emitter e(out, 1);
  Rng rng(args.seed);
  std::vector<uint32_t> slot(sp.slots, kNoObject);
  for (uint64_t i = 0; i < sp.steps && e.ok(); ++i) {
    uint32_t& obj = slot[rng.below(sp.slots)];
    if (obj != kNoObject) e.free(0, obj);
    obj = e.malloc(0, rng.range(sp.min_size, sp.max_size));
  }
  e.free_slots(0, slot);
  return e.finish(error);
}

}  // namespace

Generator large_buffers_generator() {
  return {
      "large-buffers",
      "large buffers: a random one of a few slots freed and replaced by a 5-25 MiB buffer "
      "each step",
      "malloc-large (mimalloc-bench)",
      slot_param_list({"100", "replacements (each touches up to max_size bytes at replay)"},
                      {"20", "buffers kept"}, {"5M", "smallest buffer"}, {"25M", "largest buffer"}),
      false,
      generate};
}

}  // namespace allocmark::gen
