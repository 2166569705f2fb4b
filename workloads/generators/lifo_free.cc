// lifo-free: batches of random-size blocks where half are freed last-allocated-first and half in
// allocation order; with threads, that second half is freed by the next thread. Layer: workloads.
#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark::gen {
namespace {

bool generate(const GeneratorArgs& args, ParamReader& p, TraceOutput* out, std::string* error) {
  const uint64_t rounds = p.u64("rounds"), count = p.u64("count");
  const uint64_t min_size = p.u64("min_size"), max_size = p.u64("max_size");
  if (!check_params(p, error) || !check_positive(min_size, "min_size", error) ||
      !check_size_range(min_size, max_size, "min_size", "max_size", error) ||
      !check_events(sat_mul(args.threads, sat_mul(rounds, sat_mul(count, 2))), error))
    return false;
  const uint32_t threads = args.threads;
  Emitter e(out, threads);
  std::vector<Rng> rng = thread_rngs(args);
  std::vector<std::vector<uint32_t>> batch(threads), handed(threads);
  for (uint64_t r = 0; r < rounds && e.ok(); ++r) {
    for (uint32_t t = 0; t < threads; ++t) {
      auto& b = batch[t];
      b.clear();
      for (uint64_t i = 0; i < count; ++i)
        b.push_back(e.malloc(t, rng[t].range(min_size, max_size)));
      // First half: a stack discipline, freed newest first (sh6bench's LIFO pass).
      const size_t half = b.size() / 2;
      for (size_t i = half; i-- > 0;) e.free(t, b[i]);
      // Second half: freed oldest first, the order that defeats a LIFO free list. sh8bench
      // adds cross-thread frees: with threads > 1 the previous thread's second half lands here.
      if (threads == 1) {
        for (size_t i = half; i < b.size(); ++i) e.free(t, b[i]);
      } else {
        auto& in = handed[(t + threads - 1) % threads];
        for (uint32_t obj : in) e.free(t, obj);
        in.clear();
        handed[t].assign(b.begin() + static_cast<ptrdiff_t>(half), b.end());
      }
    }
  }
  for (uint32_t t = 0; t < threads; ++t)
    for (uint32_t obj : handed[t]) e.free(t, obj);
  return e.finish(error);
}

}  // namespace

Generator lifo_free_generator() {
  return {"lifo-free",
          "batches of random-size blocks; half freed in reverse (LIFO) order, half in allocation "
          "order; with threads > 1 that half is freed by the next thread",
          "sh6bench / sh8bench (MicroQuill SmartHeap benchmarks; mimalloc-bench sh6benchN, "
          "sh8benchN)",
          {{"rounds", "250", "batches per thread"},
           {"count", "2000", "blocks per batch"},
           {"min_size", "8", "smallest block in bytes"},
           {"max_size", "1000", "largest block in bytes"}},
          true,
          generate};
}

}  // namespace allocmark::gen
