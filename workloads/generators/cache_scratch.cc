// cache-scratch: passive false sharing; the main thread allocates one small object per thread,
// each thread frees it and then allocates, writes and frees its own. Layer: workloads. An
// allocator that reuses the freed object's line for the freeing thread inherits the sharing.
#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark::gen {
namespace {

bool generate(const GeneratorArgs& args, ParamReader& p, Trace* trace, std::string* error) {
  const uint64_t iterations = p.u64("iterations"), size = p.u64("size");
  const uint64_t writes = p.u64("writes");
  if (!check_params(p, error) || !check_positive(size, "size", error) ||
      !check_size_range(size, size, "size", "size", error) ||
      (size > kMaxAccessSize && !fail(error, "param 'size' must be at most 64K")) ||
      !check_events(sat_mul(args.threads, sat_mul(sat_add(iterations, 1), sat_add(writes, 2))),
                    error))
    return false;
  const uint32_t threads = args.threads;
  Emitter e(threads);
  std::vector<Rng> rng;
  for (uint32_t t = 0; t < threads; ++t) rng.emplace_back(args.seed, t);
  // Consecutive allocations by the main thread (trace thread 0): neighbours in most allocators.
  std::vector<uint32_t> given(threads);
  for (uint32_t t = 0; t < threads; ++t) {
    given[t] = e.malloc(0, size);
    e.access(0, given[t], 0, size);
  }
  std::vector<uint64_t> done(threads, 0);
  interleave(e, threads, 1, [&](uint32_t t) {
    if (done[t] == 0) e.free(t, given[t]);  // the passive part: a remote free of a neighbour
    if (done[t]++ >= iterations) return false;
    const uint32_t obj = e.malloc(t, size);
    for (uint64_t w = 0; w < writes; ++w) e.access(t, obj, rng[t].below(size), 1);
    e.free(t, obj);
    return true;
  });
  return e.finish(trace, error);
}

}  // namespace

Generator cache_scratch_generator() {
  return {"cache-scratch",
          "passive false sharing: thread 0 allocates one small object per thread, each thread "
          "frees it, then allocates, writes (access events) and frees its own repeatedly",
          "cache-scratch (Hoard, Berger et al. ASPLOS 2000; mimalloc-bench cache-scratchN)",
          {{"iterations", "100000", "allocate/write/free cycles per thread"},
           {"size", "8", "object size in bytes"},
           {"writes", "8", "one-byte write events per object"}},
          true,
          generate};
}

}  // namespace allocmark::gen
