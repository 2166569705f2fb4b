// mstress: mimalloc's stress test; threads allocate power-of-two sized items (rarely huge),
// free random ones, and swap objects through a shared transfer array. Layer: workloads.
#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark::gen {
namespace {

constexpr uint64_t kTransfers = 1000;  // shared exchange slots, as in test-stress
constexpr uint64_t kWord = 8;          // items are machine words

bool generate(const GeneratorArgs& args, ParamReader& p, TraceOutput* out, std::string* error) {
  const uint64_t iterations = p.u64("iterations"), items = p.u64("items");
  const uint64_t large = p.u64("allow_large");
  if (!check_params(p, error) ||
      !check_events(sat_mul(sat_mul(iterations, 8 * args.threads), sat_mul(items, 4)), error))
    return false;
  const uint32_t threads = args.threads;
  Emitter e(out, threads);
  std::vector<uint32_t> transfer(kTransfers, kNoObject);
  Rng main_rng(args.seed, threads);
  std::vector<Rng> rng = thread_rngs(args);

  // Items of 2^k words, k < shift; 1 % are 100x larger, 0.1 % 1000x, 0.01 % 10000x (the giants
  // that reach the OS), all calloc'ed as test-stress does.
  auto alloc_items = [&](uint32_t t, uint64_t shift) {
    Rng& r = rng[t];
    uint64_t n = uint64_t{1} << r.below(shift);
    if (r.chance(1, 100)) {
      if (large && r.chance(1, 100))
        n *= 10000;
      else if (large && r.chance(10, 100))
        n *= 1000;
      else
        n *= 100;
    }
    return e.calloc(t, n, kWord);
  };

  struct State {
    std::vector<uint32_t> data, retained;
    uint64_t allocs = 0, retain = 0;
  };
  for (uint64_t it = 0; it < iterations && e.ok(); ++it) {
    // test-stress starts fresh threads each iteration; thread t does (t % 8 + 1) shares of work.
    std::vector<State> st(threads);
    for (uint32_t t = 0; t < threads; ++t) {
      st[t].allocs = items * (t % 8 + 1);
      st[t].retain = st[t].allocs / 2;
    }
    interleave(e, threads, 32, [&](uint32_t t) {
      State& s = st[t];
      Rng& r = rng[t];
      if (s.allocs == 0 && s.retain == 0) {
        for (uint32_t obj : s.retained) e.free(t, obj);
        e.free_slots(t, s.data);
        return false;
      }
      if (s.retain == 0 || (r.chance(50, 100) && s.allocs > 0)) {
        --s.allocs;
        s.data.push_back(alloc_items(t, 5));
      } else {
        s.retained.push_back(alloc_items(t, 7));
        --s.retain;
      }
      if (r.chance(66, 100) && !s.data.empty()) {
        uint32_t& victim = s.data[r.below(s.data.size())];
        if (victim != kNoObject) e.free(t, victim);
        victim = kNoObject;
      }
      if (r.chance(25, 100) && !s.data.empty()) {
        // Swap with the shared array: the object will be freed by whoever picks it up.
        std::swap(s.data[r.below(s.data.size())], transfer[r.below(kTransfers)]);
      }
      return true;
    });
    // Between iterations the main thread frees about half of the transfer slots.
    for (uint32_t& obj : transfer)
      if (main_rng.chance(50, 100) && obj != kNoObject) {
        e.free(0, obj);
        obj = kNoObject;
      }
  }
  e.free_slots(0, transfer);
  return e.finish(error);
}

}  // namespace

Generator mstress_generator() {
  return {"mstress",
          "stress: power-of-two word counts, 1 % large and rare giant (up to ~5 MiB) calloc'ed "
          "items, random frees, objects swapped between threads through a shared array",
          "mstress (mimalloc test-stress.c; mimalloc-bench mstress)",
          {{"iterations", "50", "iterations (test-stress restarts its threads each one)"},
           {"items", "5000",
            "allocations per thread per iteration (thread t does t%8+1 times "
            "as many), plus half as many retained to the iteration's end"},
           {"allow_large", "1", "1 = include the 1000x and 10000x giants, 0 = only 100x"}},
          true,
          generate};
}

}  // namespace allocmark::gen
