// cache-thrash: active false sharing; each thread repeatedly allocates a tiny object, writes it
// many times and frees it. Layer: workloads. An allocator that hands neighbouring bytes of one
// cache line to different threads makes those writes ping-pong between cores.
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
      !check_events(sat_mul(args.threads, sat_mul(iterations, sat_add(writes, 2))), error))
    return false;
  Emitter e(args.threads);
  std::vector<Rng> rng;
  for (uint32_t t = 0; t < args.threads; ++t) rng.emplace_back(args.seed, t);
  std::vector<uint64_t> done(args.threads, 0);
  // The sharing happens at concurrent replay, where the threads' loops overlap in time; the
  // recorded order is just a fair round robin of whole iterations.
  interleave(e, args.threads, 1, [&](uint32_t t) {
    if (done[t]++ >= iterations) return false;
    const uint32_t obj = e.malloc(t, size);
    // Each access writes one byte at a random offset: the repeated stores of cache-thrash's
    // inner loop, with the seed choosing which bytes.
    for (uint64_t w = 0; w < writes; ++w) e.access(t, obj, rng[t].below(size), 1);
    e.free(t, obj);
    return true;
  });
  return e.finish(trace, error);
}

}  // namespace

Generator cache_thrash_generator() {
  return {"cache-thrash",
          "active false sharing: per thread, allocate a small object, write it repeatedly "
          "(access events), free it; run with threads > 1",
          "cache-thrash (Hoard, Berger et al. ASPLOS 2000; mimalloc-bench cache-thrashN)",
          {{"iterations", "100000", "allocate/write/free cycles per thread"},
           {"size", "8", "object size in bytes"},
           {"writes", "8", "one-byte write events per object"}},
          true,
          generate};
}

}  // namespace allocmark::gen
