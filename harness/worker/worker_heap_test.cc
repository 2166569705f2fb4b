// Tests of the worker's own heap (worker_heap.cc), which replaces operator new/delete for this
// whole binary as it does in allocmark-worker. Layer: harness tests.
#include <malloc.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <new>
#include <string>
#include <thread>
#include <vector>

namespace {

// Bytes glibc's heap has handed out: they move whenever malloc serves a request.
size_t glibc_heap_bytes() { return mallinfo2().uordblks; }

TEST(WorkerHeap, CxxObjectsNeverComeFromMalloc) {
  const size_t before = glibc_heap_bytes();
  std::vector<std::string> strings;
  for (int i = 0; i < 2000; ++i) strings.push_back(std::string(40 + i % 300, 'x'));
  std::map<int, std::vector<int>> m;
  for (int i = 0; i < 500; ++i) m[i].resize(i);
  auto big = std::make_unique<char[]>(3 << 20);  // a large block: its own mapping
  big[(3 << 20) - 1] = 1;
  EXPECT_EQ(glibc_heap_bytes(), before);
}

TEST(WorkerHeap, AlignmentOfEveryForm) {
  for (size_t n : {1, 15, 16, 17, 100, 4096, 65519, 65520, 65536, 1 << 20}) {
    void* p = ::operator new(n);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u) << n;
    std::memset(p, 0xab, n);
    ::operator delete(p);
    for (size_t a : {32, 64, 4096, 1 << 16}) {
      void* q = ::operator new(n, std::align_val_t{a});
      EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % a, 0u) << n << " align " << a;
      std::memset(q, 0xcd, n);
      ::operator delete(q, std::align_val_t{a});
    }
  }
  struct alignas(128) Wide {
    char c[3];
  };
  auto* w = new Wide[5];
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w) % 128, 0u);
  delete[] w;
}

TEST(WorkerHeap, ReusesFreedBlocks) {
  void* a = ::operator new(200);
  ::operator delete(a);
  void* b = ::operator new(190);  // same class: the block just freed comes back (LIFO)
  EXPECT_EQ(a, b);
  ::operator delete(b);
}

// Blocks from several threads never overlap: each keeps its own fill until freed.
TEST(WorkerHeap, ThreadsGetDisjointBlocks) {
  constexpr int kThreads = 4, kRounds = 20000;
  std::vector<std::thread> threads;
  std::vector<int> bad(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &bad] {
      std::vector<std::pair<unsigned char*, size_t>> live;
      for (int i = 0; i < kRounds; ++i) {
        const size_t n = 1 + static_cast<size_t>((i * 2654435761u + t) % 5000);
        auto* p = static_cast<unsigned char*>(::operator new(n));
        std::memset(p, t + 1, n);
        live.emplace_back(p, n);
        if (live.size() > 64) {
          auto [q, m] = live[static_cast<size_t>(i) % live.size()];
          for (size_t k = 0; k < m; ++k) bad[t] += q[k] != t + 1;
          ::operator delete(q);
          live[static_cast<size_t>(i) % live.size()] = live.back();
          live.pop_back();
        }
      }
      for (auto [q, m] : live) ::operator delete(q);
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(bad[t], 0) << t;
}

}  // namespace
