// larson: Larson & Krishnan's server simulation; threads replace random blocks in their slot
// arrays and hand the arrays on, so blocks are freed by threads that did not allocate them.
// Layer: workloads.
#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark::gen {
namespace {

bool generate(const GeneratorArgs& args, ParamReader& p, TraceOutput* out, std::string* error) {
  const uint64_t min_size = p.u64("min_size"), max_size = p.u64("max_size");
  const uint64_t slots = p.u64("slots"), steps = p.u64("steps");
  const uint64_t generations = p.u64("generations");
  if (!check_params(p, error) || !check_positive(slots, "slots", error) ||
      !check_positive(min_size, "min_size", error) ||
      !check_size_range(min_size, max_size, "min_size", "max_size", error) ||
      !check_events(sat_mul(args.threads,
                            sat_add(sat_mul(4, slots), sat_mul(2, sat_mul(steps, generations)))),
                    error))
    return false;
  const uint32_t threads = args.threads;
  Emitter e(out, threads);
  Rng main_rng(args.seed, threads);  // the main thread's own stream
  std::vector<Rng> rng = thread_rngs(args);
  // One array per thread, as in larson's runthreads(): array a is a slice of the main block list.
  std::vector<std::vector<uint32_t>> arrays(threads);

  // Warm-up, like larson's warmup(): the main thread (trace thread 0) allocates every block,
  // then replaces as many random blocks as there are, so the heap starts aged, not pristine.
  for (auto& a : arrays)
    for (uint64_t i = 0; i < slots; ++i)
      a.push_back(e.malloc(0, main_rng.range(min_size, max_size)));
  for (uint64_t i = 0; i < slots * threads && e.ok(); ++i) {
    uint32_t& victim = arrays[main_rng.below(threads)][main_rng.below(slots)];
    e.free(0, victim);
    victim = e.malloc(0, main_rng.range(min_size, max_size));
  }

  // Larson ends each worker thread after its round and starts a new one on the same array, so
  // the successor frees the predecessor's blocks. Trace threads are replayed as long-lived OS
  // threads, so the hand-over is modelled by rotating the arrays one thread on per generation:
  // the same cross-thread frees, without thread creation in the measured loop.
  for (uint64_t g = 0; g < generations && e.ok(); ++g) {
    std::vector<uint64_t> done(threads, 0);
    interleave(e, threads, 64, [&](uint32_t t) {
      if (done[t]++ >= steps) return false;
      std::vector<uint32_t>& a = arrays[(t + g) % threads];
      uint32_t& victim = a[rng[t].below(slots)];
      e.free(t, victim);
      victim = e.malloc(t, rng[t].range(min_size, max_size));
      return true;
    });
  }
  // Each array's current holder empties it, so the trace ends with nothing live.
  const uint64_t last = generations > 0 ? generations - 1 : 0;
  for (uint32_t t = 0; t < threads; ++t)
    for (uint32_t obj : arrays[(t + last) % threads]) e.free(t, obj);
  return e.finish(error);
}

}  // namespace

Generator larson_generator() {
  return {
      "larson",
      "server simulation: each thread frees a random block of its slot array and allocates "
      "a random-size replacement; arrays pass to the next thread every generation, so most "
      "frees are cross-thread",
      "larson (mimalloc-bench larson/larsonN; Larson & Krishnan, ISMM'98)",
      {{"min_size", "8", "smallest block in bytes"},
       {"max_size", "1000", "largest block in bytes"},
       {"slots", "5000", "blocks per thread (larson's chunks per thread)"},
       {"steps", "50000", "replacements per thread per generation"},
       {"generations", "10", "thread generations; arrays rotate to the next thread after each"}},
      true,
      generate};
}

}  // namespace allocmark::gen
