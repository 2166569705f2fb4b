// tcmalloc (gperftools) fast paths through malloc/free. A binary of its own because linking
// tcmalloc replaces malloc for the whole process. Layer: bench.
#include "bench/bench_common.h"

namespace allocmark::bench {
namespace {

SystemMalloc g_tcmalloc;  // malloc resolves to tcmalloc in this binary

void BM_Allocate_tcmalloc(benchmark::State& s) { allocate_only(s, g_tcmalloc); }
void BM_Pair_tcmalloc(benchmark::State& s) { pair(s, g_tcmalloc); }

BENCHMARK(BM_Allocate_tcmalloc)->Apply(size_args);
BENCHMARK(BM_Pair_tcmalloc)->Apply(size_args);

}  // namespace
}  // namespace allocmark::bench

BENCHMARK_MAIN();
