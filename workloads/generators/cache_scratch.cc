// cache-scratch: passive false sharing; the main thread allocates one small object per thread,
// each thread frees it and then allocates, writes and frees its own. Layer: workloads. An
// allocator that reuses the freed object's line for the freeing thread inherits the sharing.
#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark::gen {
namespace {

bool generate(const GeneratorArgs& args, ParamReader& p, TraceOutput* out, std::string* error) {
  CacheParams cp;
  if (!read_cache_params(args, p, 1, &cp, error)) return false;
  const uint32_t threads = args.threads;
  Emitter e(out, threads);
  std::vector<Rng> rng = thread_rngs(args);
  // Consecutive allocations by the main thread (trace thread 0): neighbours in most allocators.
  std::vector<uint32_t> given(threads);
  for (uint32_t t = 0; t < threads; ++t) {
    given[t] = e.malloc(0, cp.size);
    e.access(0, given[t], 0, cp.size);
  }
  std::vector<uint64_t> done(threads, 0);
  interleave(e, threads, 1, [&](uint32_t t) {
    if (done[t] == 0) e.free(t, given[t]);  // the passive part: a remote free of a neighbour
    if (done[t]++ >= cp.iterations) return false;
    write_cycle(e, rng[t], t, cp);
    return true;
  });
  return e.finish(error);
}

}  // namespace

Generator cache_scratch_generator() {
  return {"cache-scratch",
          "passive false sharing: thread 0 allocates one small object per thread, each thread "
          "frees it, then allocates, writes (access events) and frees its own repeatedly",
          "cache-scratch (Hoard, Berger et al. ASPLOS 2000; mimalloc-bench cache-scratchN)",
          cache_param_list(),
          true,
          generate};
}

}  // namespace allocmark::gen
