// xmalloc: producer-consumer batches; every thread allocates batches and frees batches that
// another thread produced. Layer: workloads. Stresses remote frees and per-thread cache refills.
#include <deque>

#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark::gen {
namespace {

// Size classes a random object is drawn from when size=0: powers of two and the 1.5x steps
// between them from 8 to 2048 bytes, as in xmalloc-test's random-size mode.
constexpr uint64_t kSizes[] = {8,   12,  16,  24,  32,  48,   64,   96,  128,
                               192, 256, 384, 512, 768, 1024, 1536, 2048};

bool generate(const GeneratorArgs& args, ParamReader& p, TraceOutput* out, std::string* error) {
  const uint64_t batches = p.u64("batches"), batch_size = p.u64("batch_size");
  const uint64_t size = p.u64("size"), depth = p.u64("depth");
  if (!check_params(p, error) || !check_positive(batch_size, "batch_size", error) ||
      !check_size_range(size, size, "size", "size", error) ||
      !check_events(sat_mul(args.threads, sat_mul(sat_mul(batches, batch_size), 2)), error))
    return false;
  const uint32_t threads = args.threads;
  Emitter e(out, threads);
  std::vector<Rng> rng = thread_rngs(args);
  // queue[t]: batches produced by thread t, oldest first, waiting for thread t+1 to free them.
  // xmalloc-test shares one queue among all threads; a fixed ring of hand-overs keeps the same
  // producer != consumer property deterministic, and `depth` batches in flight per producer
  // plays the part of the queue's length.
  std::vector<std::deque<std::vector<uint32_t>>> queue(threads);
  for (uint64_t round = 0; round < batches + depth && e.ok(); ++round) {
    for (uint32_t t = 0; t < threads; ++t) {
      if (round < batches) {
        std::vector<uint32_t> batch;
        for (uint64_t i = 0; i < batch_size; ++i)
          batch.push_back(e.malloc(t, size ? size : kSizes[rng[t].below(std::size(kSizes))]));
        queue[t].push_back(std::move(batch));
      }
      auto& from = queue[(t + threads - 1) % threads];
      if (round >= depth && !from.empty()) {
        for (uint32_t obj : from.front()) e.free(t, obj);
        from.pop_front();
      }
    }
  }
  return e.finish(error);
}

}  // namespace

Generator xmalloc_generator() {
  return {"xmalloc",
          "producer-consumer: each thread allocates batches of objects and frees the batches the "
          "previous thread produced (cross-thread frees in bulk)",
          "xmalloc-test (Lever & Boreham, USENIX 2000; mimalloc-bench xmalloc-testN)",
          {{"batches", "2000", "batches produced per thread"},
           {"batch_size", "256", "objects per batch"},
           {"size", "64", "object size in bytes; 0 = random from 8..2048 size classes"},
           {"depth", "4", "batches a producer has in flight before its consumer frees one"}},
          true,
          generate};
}

}  // namespace allocmark::gen
