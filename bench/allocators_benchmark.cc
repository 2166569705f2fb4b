// Fast-path micro-benchmarks: bump, arena, pool against glibc malloc and mimalloc (mi_ API).
// Layer: bench. tcmalloc replaces malloc, so it lives in its own binary (tcmalloc_benchmark.cc).
//
// mimalloc: Debian's libmimalloc.so also exports malloc/free, so linking it would silently turn
// the "glibc" figures into mimalloc's. It is therefore opened with dlopen(RTLD_LOCAL) (its
// malloc stays out of the global scope) and called through mi_malloc/mi_free pointers: one
// indirect call, the same cost class as the PLT call glibc's malloc gets.
#include <dlfcn.h>

#include <cstdio>

#include "allocators/arena.h"
#include "allocators/bump.h"
#include "allocators/null_allocator.h"
#include "allocators/pool.h"
#include "bench/bench_common.h"

namespace allocmark::bench {
namespace {

struct Mimalloc {
  using MallocFn = void* (*)(std::size_t);
  using FreeFn = void (*)(void*);
  static inline MallocFn mi_malloc = nullptr;
  static inline FreeFn mi_free = nullptr;

  static bool load() {
#ifdef ALLOCMARK_MIMALLOC_SO
    void* h = dlopen(ALLOCMARK_MIMALLOC_SO, RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) return false;
    mi_malloc = reinterpret_cast<MallocFn>(dlsym(h, "mi_malloc"));
    mi_free = reinterpret_cast<FreeFn>(dlsym(h, "mi_free"));
#endif
    return mi_malloc != nullptr && mi_free != nullptr;
  }
  void* allocate(std::size_t n, std::size_t) noexcept { return mi_malloc(n); }
  void deallocate(void* p, std::size_t, std::size_t) noexcept { mi_free(p); }
};

// One shared instance per allocator, as the replay uses it (threads share it). Options come
// from ALLOCMARK_<NAME>_* like everywhere else, and are printed in the context.
Bump& bump() {
  static Bump b(options_from_env<BumpOptions>());
  return b;
}
Arena& arena() {
  // Phase-reset configuration: enough warm chunks that a batch never goes back to the OS.
  static Arena a([] {
    ArenaOptions o;
    o.warm_chunks = 64;
    load_env(o, nullptr);
    return o;
  }());
  return a;
}
Pool& pool() {
  static Pool p(options_from_env<PoolOptions>());
  return p;
}
SystemMalloc g_glibc;
Mimalloc g_mimalloc;
NullAllocator g_null;

void BM_Allocate_bump(benchmark::State& s) { allocate_only(s, bump()); }
void BM_Allocate_arena(benchmark::State& s) { allocate_only(s, arena()); }
void BM_Allocate_pool(benchmark::State& s) { allocate_only(s, pool()); }
void BM_Allocate_glibc(benchmark::State& s) { allocate_only(s, g_glibc); }
// A missing mimalloc is recorded as a skipped run, not dropped.
bool mimalloc_or_skip(benchmark::State& s) {
  if (Mimalloc::mi_malloc != nullptr) return true;
  s.SkipWithError("mimalloc library could not be loaded");
  for (auto _ : s) {
  }
  return false;
}
void BM_Allocate_mimalloc(benchmark::State& s) {
  if (mimalloc_or_skip(s)) allocate_only(s, g_mimalloc);
}
void BM_Pair_bump(benchmark::State& s) { pair(s, bump()); }
void BM_Pair_arena(benchmark::State& s) { pair(s, arena()); }
void BM_Pair_pool(benchmark::State& s) { pair(s, pool()); }
void BM_Pair_glibc(benchmark::State& s) { pair(s, g_glibc); }
void BM_Pair_mimalloc(benchmark::State& s) {
  if (mimalloc_or_skip(s)) pair(s, g_mimalloc);
}
void BM_Pair_null(benchmark::State& s) { pair(s, g_null); }  // loop cost floor

BENCHMARK(BM_Allocate_bump)->Apply(size_args);
BENCHMARK(BM_Allocate_arena)->Apply(size_args);
BENCHMARK(BM_Allocate_pool)->Apply(size_args);
BENCHMARK(BM_Allocate_glibc)->Apply(size_args);
BENCHMARK(BM_Allocate_mimalloc)->Apply(size_args);
BENCHMARK(BM_Pair_bump)->Apply(size_args);
BENCHMARK(BM_Pair_arena)->Apply(size_args);
BENCHMARK(BM_Pair_pool)->Apply(size_args);
BENCHMARK(BM_Pair_glibc)->Apply(size_args);
BENCHMARK(BM_Pair_mimalloc)->Apply(size_args);
BENCHMARK(BM_Pair_null)->Apply(size_args);

}  // namespace
}  // namespace allocmark::bench

#ifdef ALLOCMARK_MIMALLOC_SO
static const char* const kMimallocSo = ALLOCMARK_MIMALLOC_SO;
#else
static const char* const kMimallocSo = "";
#endif

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  const bool have_mi = allocmark::bench::Mimalloc::load();
  benchmark::AddCustomContext("mimalloc", have_mi ? kMimallocSo : "missing");
  benchmark::AddCustomContext("bump_options",
                              allocmark::describe(allocmark::bench::bump().options()));
  benchmark::AddCustomContext("arena_options",
                              allocmark::describe(allocmark::bench::arena().options()));
  benchmark::AddCustomContext("pool_options",
                              allocmark::describe(allocmark::bench::pool().options()));
  if (!have_mi) std::fprintf(stderr, "allocators_benchmark: mimalloc not loadable: skipped\n");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
