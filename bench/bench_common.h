// Benchmark bodies shared by the micro-benchmark binaries: allocate-only and allocate+free pairs
// over any allocmark::Allocator, 1 or N threads. Layer: bench (depends on allocators only).
#pragma once

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <thread>
#include <vector>

#include "allocators/allocator.h"

namespace allocmark::bench {

// Sizes and thread counts the issue asks for.
inline void size_args(benchmark::internal::Benchmark* b) {
  for (int n : {16, 64, 256, 1024, 4096}) b->Arg(n);
  b->Threads(1)->Threads(2)->UseRealTime();
}

// Blocks per timed batch: large enough that the timer reads around it (~40 ns) cost < 0.01 ns
// per operation, small enough that a batch stays in L2 for the pointer array.
inline constexpr int kBatch = 4096;

// glibc (or whatever malloc the binary links: tcmalloc in tcmalloc_benchmark).
struct SystemMalloc {
  void* allocate(std::size_t n, std::size_t) noexcept { return std::malloc(n); }
  void deallocate(void* p, std::size_t, std::size_t) noexcept { std::free(p); }
};

// Sense-reversing spin barrier so the threads of one benchmark can reset a shared allocator
// while none of them is allocating. Used only while the timer is paused.
class SpinBarrier {
 public:
  void wait(int parties) {
    const int gen = generation_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == parties) {
      arrived_.store(0, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_acq_rel);
      return;
    }
    while (generation_.load(std::memory_order_acquire) == gen) std::this_thread::yield();
  }

 private:
  std::atomic<int> arrived_{0};
  std::atomic<int> generation_{0};
};

inline void per_op_counters(benchmark::State& state) {
  const double ops = static_cast<double>(state.iterations()) * kBatch;
  state.SetItemsProcessed(static_cast<int64_t>(ops));  // rate over real time: throughput
  // Per-thread averages (not sums): the summary derives CPU ns/op = cpu_time / batch.
  state.counters["bytes"] =
      benchmark::Counter(static_cast<double>(state.range(0)), benchmark::Counter::kAvgThreads);
  state.counters["batch"] = benchmark::Counter(kBatch, benchmark::Counter::kAvgThreads);
}

// Allocate-only: kBatch allocations are timed; giving them back (reset, or free) is not.
template <Allocator A>
void allocate_only(benchmark::State& state, A& a) {
  static SpinBarrier barrier;
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<void*> ptrs(kBatch);
  bool failed = false;
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) {
      void* p = a.allocate(n, 0);
      benchmark::DoNotOptimize(p);
      ptrs[i] = p;
    }
    state.PauseTiming();
    for (void* p : ptrs) failed |= p == nullptr;
    if constexpr (Resettable<A>) {
      barrier.wait(state.threads());
      if (state.thread_index() == 0) a.reset();
      barrier.wait(state.threads());
    } else {
      for (void* p : ptrs) a.deallocate(p, n, 0);
    }
    state.ResumeTiming();
  }
  if (failed) state.SkipWithError("allocation returned null");
  per_op_counters(state);
}

// Allocate + free of the same block, kBatch times per timed iteration: the fast-path pair.
template <Allocator A>
void pair(benchmark::State& state, A& a) {
  const auto n = static_cast<std::size_t>(state.range(0));
  bool failed = false;
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) {
      void* p = a.allocate(n, 0);
      benchmark::DoNotOptimize(p);
      failed |= p == nullptr;
      a.deallocate(p, n, 0);
    }
  }
  if (failed) state.SkipWithError("allocation returned null");
  per_op_counters(state);
}

}  // namespace allocmark::bench
