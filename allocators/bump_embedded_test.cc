// The embedded case: Bump over a static 1 MiB array must never map memory. This binary
// interposes mmap itself, so any mmap in the process (ours or libc's) is counted.
// Layer: allocators tests (own executable: the interposer must not affect other tests).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "allocators/bump.h"
#include "allocators/os.h"
#include "allocators/test_util.h"

namespace {
std::atomic<long> g_mmap_calls{0};
}

// Every dynamically linked mmap call in the process lands here (the executable's definition
// wins symbol resolution); forward with the raw system call.
extern "C" void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  g_mmap_calls.fetch_add(1, std::memory_order_relaxed);
  return reinterpret_cast<void*>(syscall(SYS_mmap, addr, len, prot, flags, fd, off));
}

namespace allocmark {
namespace {

alignas(64) unsigned char g_firmware_heap[1 << 20];

TEST(BumpEmbedded, InterposerSeesOsBackedBump) {
  // Control: proves the counter works, so the zero below means something.
  const long before = g_mmap_calls.load();
  Bump os_backed(BumpOptions{.capacity = 1 << 20});
  EXPECT_NE(os_backed.allocate(64, 0), nullptr);
  EXPECT_GT(g_mmap_calls.load(), before);
}

TEST(BumpEmbedded, StaticBufferNeverCallsMmap) {
  const long before = g_mmap_calls.load();
  const uint64_t os_before = os::counters().maps.load();
  std::size_t served = 0;
  {
    Bump b(g_firmware_heap, sizeof g_firmware_heap);
    EXPECT_EQ(b.capacity(), sizeof g_firmware_heap);
    for (std::size_t align = 1; align <= 4096; align <<= 1) {
      void* p = b.allocate(100, align);
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u);
    }
    void* last = nullptr;
    while (void* p = b.allocate(1000, 0)) {
      ASSERT_GE(static_cast<unsigned char*>(p), g_firmware_heap);
      ASSERT_LE(static_cast<unsigned char*>(p) + 1000, g_firmware_heap + sizeof g_firmware_heap);
      testing::fill(p, 1000, reinterpret_cast<uintptr_t>(p));
      last = p;
      served += 1000;
    }
    EXPECT_EQ(testing::verify(last, 1000, reinterpret_cast<uintptr_t>(last)), 1000u);
    EXPECT_EQ(b.allocate(1, 0) == nullptr || b.allocate(2000, 0) == nullptr, true);
    b.reset();
    EXPECT_EQ(b.allocate(16, 0), static_cast<void*>(g_firmware_heap));
    EXPECT_EQ(b.stats().os_maps, 0u);
  }
  EXPECT_GT(served, 1000u * 1000u);  // all but alignment padding of the 1 MiB was usable
  EXPECT_EQ(g_mmap_calls.load(), before);
  EXPECT_EQ(os::counters().maps.load(), os_before);
}

TEST(BumpEmbedded, TwoThreadsShareTheStaticBufferWithoutMmap) {
  Bump b(g_firmware_heap, sizeof g_firmware_heap, BumpOptions{.block_size = 4096});
  std::atomic<int> ready{0};
  std::atomic<long> during{-1};
  std::atomic<std::size_t> bad{0};
  auto work = [&] {
    ready.fetch_add(1);
    while (ready.load() < 3) std::this_thread::yield();  // thread creation mmaps: not counted
    for (int i = 0; i < 1000; ++i) {
      void* p = b.allocate(200, 0);
      if (p == nullptr) break;
      testing::fill(p, 200, reinterpret_cast<uintptr_t>(p));
      if (testing::verify(p, 200, reinterpret_cast<uintptr_t>(p)) != 200) bad.fetch_add(1);
    }
  };
  std::thread t1(work), t2(work);
  while (ready.load() < 2) std::this_thread::yield();
  const long before = g_mmap_calls.load();
  ready.fetch_add(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  during = g_mmap_calls.load() - before;
  t1.join();
  t2.join();
  EXPECT_EQ(during.load(), 0);
  EXPECT_EQ(bad.load(), 0u);
}

}  // namespace
}  // namespace allocmark
