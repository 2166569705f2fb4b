// alloc-only: allocations that are never freed (a compiler's AST, a request parsed into a tree).
// Layer: workloads. The bump allocator's best case; for malloc it measures the pure allocate path.
#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark::gen {
namespace {

bool generate(const GeneratorArgs& args, ParamReader& p, TraceOutput* out, std::string* error) {
  const uint64_t count = p.u64("count"), min_size = p.u64("min_size"), max_size = p.u64("max_size");
  if (!check_params(p, error) || !check_positive(min_size, "min_size", error) ||
      !check_size_range(min_size, max_size, "min_size", "max_size", error) ||
      !check_events(sat_mul(args.threads, count), error))
    return false;
  Emitter e(out, args.threads);
  std::vector<Rng> rng = thread_rngs(args);
  std::vector<uint64_t> done(args.threads, 0);
  // Objects stay live to the end of the trace: there is nothing for a bump allocator to undo.
  interleave(e, args.threads, 256, [&](uint32_t t) {
    if (done[t]++ >= count) return false;
    e.malloc(t, rng[t].log_uniform(min_size, max_size));
    return true;
  });
  return e.finish(error);
}

}  // namespace

Generator alloc_only_generator() {
  return {"alloc-only",
          "allocation only: log-uniform small sizes, nothing freed (bump-friendly); "
          "independent per thread",
          "allocation-only phase of compilers/parsers (the bump allocator's target pattern)",
          {{"count", "1000000", "allocations per thread"},
           {"min_size", "8", "smallest request in bytes"},
           {"max_size", "256", "largest request in bytes"}},
          true,
          generate};
}

}  // namespace allocmark::gen
