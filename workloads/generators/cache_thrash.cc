// cache-thrash: active false sharing; each thread repeatedly allocates a tiny object, writes it
// many times and frees it. Layer: workloads. An allocator that hands neighbouring bytes of one
// cache line to different threads makes those writes ping-pong between cores.
#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark::gen {
namespace {

bool generate(const GeneratorArgs& args, ParamReader& p, TraceOutput* out, std::string* error) {
  CacheParams cp;
  if (!read_cache_params(args, p, 0, &cp, error)) return false;
  Emitter e(out, args.threads);
  std::vector<Rng> rng = thread_rngs(args);
  std::vector<uint64_t> done(args.threads, 0);
  // The sharing happens at concurrent replay, where the threads' loops overlap in time; the
  // recorded order is just a fair round robin of whole iterations.
  interleave(e, args.threads, 1, [&](uint32_t t) {
    if (done[t]++ >= cp.iterations) return false;
    write_cycle(e, rng[t], t, cp);
    return true;
  });
  return e.finish(error);
}

}  // namespace

Generator cache_thrash_generator() {
  return {"cache-thrash",
          "active false sharing: per thread, allocate a small object, write it repeatedly "
          "(access events), free it; run with threads > 1",
          "cache-thrash (Hoard, Berger et al. ASPLOS 2000; mimalloc-bench cache-thrashN)",
          cache_param_list(),
          true,
          generate};
}

}  // namespace allocmark::gen
