// glibc-simple: batches of equal-size blocks allocated and freed in FIFO and in LIFO order,
// for several sizes and batch lengths. Layer: workloads. Single-threaded fast-path test.
#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark::gen {
namespace {

bool generate(const GeneratorArgs& args, ParamReader& p, TraceOutput* out, std::string* error) {
  const uint64_t rounds = p.u64("rounds"), min_size = p.u64("min_size");
  const uint64_t max_size = p.u64("max_size"), max_batch = p.u64("max_batch");
  if (!check_params(p, error) || !check_positive(min_size, "min_size", error) ||
      !check_size_range(min_size, max_size, "min_size", "max_size", error) ||
      !check_events(sat_mul(sat_mul(rounds, 64), sat_mul(max_batch, 4)), error))
    return false;
  Emitter e(out, 1);
  Rng rng(args.seed);
  std::vector<uint32_t> batch;
  for (uint64_t r = 0; r < rounds && e.ok(); ++r) {
    // Sizes double from min_size, batch lengths quadruple from 25 (bench-malloc-simple's
    // 25/100/400/1600); the seed only jitters sizes within 8 bytes so seeds give distinct traces.
    for (uint64_t size = min_size; size <= max_size; size *= 2) {
      for (uint64_t n = std::min<uint64_t>(25, max_batch); n <= max_batch; n *= 4) {
        for (int lifo = 0; lifo < 2; ++lifo) {
          const uint64_t s = size + rng.below(8);
          batch.clear();
          for (uint64_t i = 0; i < n; ++i) batch.push_back(e.malloc(0, s));
          if (lifo)
            for (uint64_t i = n; i-- > 0;) e.free(0, batch[i]);
          else
            for (uint32_t obj : batch) e.free(0, obj);
        }
        if (n == 0) break;
      }
      if (size == 0) break;
    }
  }
  return e.finish(error);
}

}  // namespace

Generator glibc_simple_generator() {
  return {"glibc-simple",
          "batches of 25/100/400/1600 equal-size blocks (16..128 bytes), freed FIFO then LIFO",
          "glibc benchtests bench-malloc-simple (mimalloc-bench glibc-simple)",
          {{"rounds", "30", "repetitions of the whole size x batch grid"},
           {"min_size", "16", "first block size in bytes (doubles up to max_size)"},
           {"max_size", "128", "last block size in bytes"},
           {"max_batch", "1600", "longest batch (lengths quadruple from 25)"}},
          false,
          generate};
}

}  // namespace allocmark::gen
