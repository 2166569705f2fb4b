// How fast traces load before timing starts: decode alone (zstd + varints) and decode plus the
// semantic check, in events per second. Layer: bench (uses workloads/ only).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "workloads/generator.h"
#include "workloads/trace_file.h"

namespace allocmark {
namespace {

// A generated trace written once per process (churn: 1 M events; larson, 4 threads: 2 M).
const std::string& trace_file(const char* generator, uint32_t threads) {
  static std::string paths[2];
  std::string& path = paths[threads > 1];
  if (path.empty()) {
    path = "/tmp/allocmark_decode_bench_" + std::to_string(getpid()) + "_" + generator + ".amt";
    GeneratorArgs args;
    args.threads = threads;
    Trace trace;
    std::string error;
    TraceError err;
    if (!generate_trace(*find_generator(generator), args, &trace, &error) ||
        !write_trace(trace, path, &err, 3)) {
      std::fprintf(stderr, "cannot make %s: %s %s\n", path.c_str(), error.c_str(),
                   err.message().c_str());
      std::exit(2);
    }
  }
  return path;
}

template <bool kCheck>
void BM_Load(benchmark::State& state, const char* generator, uint32_t threads) {
  const std::string& path = trace_file(generator, threads);
  uint64_t events = 0;
  for (auto _ : state) {
    Trace trace;
    TraceError err;
    const bool ok = kCheck ? read_trace(path, &trace, &err) : decode_trace(path, &trace, &err);
    if (!ok) {
      state.SkipWithError(err.message().c_str());
      return;
    }
    events = trace.event_count();
    benchmark::DoNotOptimize(trace.threads.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(events * state.iterations()));
}

void BM_Decode(benchmark::State& state, const char* generator, uint32_t threads) {
  BM_Load<false>(state, generator, threads);
}
void BM_DecodeCheck(benchmark::State& state, const char* generator, uint32_t threads) {
  BM_Load<true>(state, generator, threads);
}

BENCHMARK_CAPTURE(BM_Decode, churn, "churn", 1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_DecodeCheck, churn, "churn", 1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode, larson4, "larson", 4)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_DecodeCheck, larson4, "larson", 4)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace allocmark

BENCHMARK_MAIN();
