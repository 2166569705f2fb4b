// short-lived-threads: many threads that each live briefly, allocate and free a few hundred
// objects, hand some to the main thread and exit. Layer: workloads. Thread-cache setup/teardown
// cost and memory stranded in caches of threads that are gone.
#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark::gen {
namespace {

bool generate(const GeneratorArgs& args, ParamReader& p, TraceOutput* out, std::string* error) {
  const uint64_t lives = p.u64("lives"), objects = p.u64("objects");
  const uint64_t min_size = p.u64("min_size"), max_size = p.u64("max_size");
  const uint64_t handoff = p.u64("handoff_percent");
  if (!check_params(p, error) || !check_positive(min_size, "min_size", error) ||
      !check_size_range(min_size, max_size, "min_size", "max_size", error) ||
      !check_events(sat_mul(lives, sat_add(sat_mul(objects, 2), 1)), error))
    return false;
  if (handoff > 100) return fail(error, "param 'handoff_percent' must be at most 100");
  if (lives > (1u << 20)) return fail(error, "param 'lives' must be at most 1M (trace threads)");
  // Trace thread 0 is the long-lived main thread; each life gets a fresh trace thread that ends
  // with thread_exit. `threads` lives run at once.
  Emitter e(out, 1);
  const uint32_t anchor = e.malloc(0, 64);  // main's own state, so its stream starts at once
  struct Life {
    uint32_t thread = 0;
    Rng rng{0};
    uint64_t done = 0;
    std::vector<uint32_t> live;
  };
  uint64_t started = 0;
  auto start = [&](Life& l) {
    l.thread = e.add_thread();
    l.rng = Rng(args.seed, ++started);
    l.done = 0;
    l.live.clear();
  };
  std::vector<Life> running(std::min<uint64_t>(args.threads, lives));
  for (Life& l : running) start(l);
  std::vector<uint32_t> handed;
  while (!running.empty() && e.ok()) {
    for (size_t i = 0; i < running.size();) {
      Life& l = running[i];
      // A slice of 16 steps per turn: lives overlap, as threads started close together do.
      for (int q = 0; q < 16 && l.done < objects; ++q, ++l.done) {
        l.live.push_back(e.malloc(l.thread, l.rng.log_uniform(min_size, max_size)));
        if (l.rng.chance(1, 2)) {
          const size_t k = l.rng.below(l.live.size());
          e.free(l.thread, l.live[k]);
          l.live[k] = l.live.back();
          l.live.pop_back();
        }
      }
      if (l.done < objects) {
        ++i;
        continue;
      }
      // End of life: free what it still holds, except results handed to main, then exit;
      // main frees those after the thread is gone (frees into a dead thread's heap).
      handed.clear();
      for (uint32_t obj : l.live) {
        if (l.rng.chance(handoff, 100))
          handed.push_back(obj);
        else
          e.free(l.thread, obj);
      }
      e.thread_exit(l.thread);
      for (uint32_t obj : handed) e.free(0, obj);
      if (started < lives) {
        start(l);
        ++i;
      } else {
        running.erase(running.begin() + static_cast<ptrdiff_t>(i));
      }
    }
  }
  e.free(0, anchor);
  return e.finish(error);
}

}  // namespace

Generator short_lived_threads_generator() {
  return {"short-lived-threads",
          "thread churn: `lives` short-lived threads (`threads` at a time) each allocate and free "
          "a few hundred objects, hand some to the main thread, and exit",
          "thread-cache churn in thread-per-task programs; mimalloc-bench's threadtest / "
          "mstress thread restarts",
          {{"lives", "1000", "short-lived threads over the whole trace"},
           {"objects", "500", "allocations per life"},
           {"min_size", "16", "smallest object in bytes"},
           {"max_size", "2048", "largest object in bytes (log-uniform)"},
           {"handoff_percent", "10",
            "chance in percent that an object still held at exit goes "
            "to the main thread, which frees it"}},
          true,
          generate};
}

}  // namespace allocmark::gen
