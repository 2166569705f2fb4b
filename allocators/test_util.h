// Test helpers shared by the allocator unit tests: pattern fill/verify and randomized stress.
// Layer: allocators tests only (GoogleTest); never included by library code.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "allocators/allocator.h"

namespace allocmark::testing {

// A byte pattern unique to (block, tag): two live blocks that overlap cannot both verify.
inline uint8_t pattern_byte(uintptr_t tag, std::size_t i) {
  const uint64_t x = (tag ^ (i * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
  return static_cast<uint8_t>(x >> 56);
}

inline void fill(void* p, std::size_t n, uintptr_t tag) {
  auto* b = static_cast<uint8_t*>(p);
  for (std::size_t i = 0; i < n; ++i) b[i] = pattern_byte(tag, i);
}

// Returns the index of the first wrong byte, or n when the block is intact.
inline std::size_t verify(const void* p, std::size_t n, uintptr_t tag) {
  const auto* b = static_cast<const uint8_t*>(p);
  for (std::size_t i = 0; i < n; ++i) {
    if (b[i] != pattern_byte(tag, i)) return i;
  }
  return n;
}

struct Block {
  void* p;
  std::size_t n;
  std::size_t align;
  uintptr_t tag;
};

// Size mix: mostly small, some medium, a few large, with random power-of-two alignment.
inline Block random_request(std::mt19937_64& rng, std::size_t max_size) {
  const uint64_t r = rng();
  std::size_t n;
  switch (r % 16) {
    case 0:
      n = 0;
      break;
    case 1:
    case 2:
      n = 1 + (r >> 8) % max_size;
      break;
    case 3:
    case 4:
    case 5:
      n = 1 + (r >> 8) % std::min<std::size_t>(4096, max_size);
      break;
    default:
      n = 1 + (r >> 8) % 256;
      break;
  }
  std::size_t align = 0;
  if ((r >> 4) % 8 == 0) align = std::size_t{1} << ((r >> 40) % 13);  // 1 .. 4096
  return Block{nullptr, n, align, static_cast<uintptr_t>(rng())};
}

// Randomized stress: `threads` threads each run `ops` operations, keeping up to `max_live`
// blocks, each filled with its pattern and verified before it is freed. With cross_thread,
// a quarter of the frees hand the block to a shared pool freed by whichever thread takes it.
// Returns the number of corrupted blocks found (0 expected). Checks alignment too.
template <Allocator A>
std::size_t stress(A& a, int threads, int ops, std::size_t max_live, std::size_t max_size,
                   bool cross_thread, uint64_t seed = 1) {
  std::atomic<std::size_t> bad{0};
  std::mutex shared_mu;
  std::vector<Block> shared;
  auto check_free = [&](const Block& b) {
    if (b.p == nullptr) return;
    if (verify(b.p, b.n, b.tag) != b.n) bad.fetch_add(1);
    a.deallocate(b.p, b.n, b.align);
  };
  auto worker = [&](int t) {
    std::mt19937_64 rng(seed * 1000003 + static_cast<uint64_t>(t));
    std::vector<Block> live;
    for (int i = 0; i < ops; ++i) {
      const bool do_alloc = live.size() < max_live && (live.empty() || rng() % 100 < 55);
      if (do_alloc) {
        Block b = random_request(rng, max_size);
        b.p = a.allocate(b.n, b.align);
        if (b.p == nullptr) continue;  // exhaustion is allowed, corruption is not
        const std::size_t want = b.align != 0 ? b.align : alignof(std::max_align_t);
        if (reinterpret_cast<uintptr_t>(b.p) % want != 0) bad.fetch_add(1);
        fill(b.p, b.n, b.tag);
        live.push_back(b);
      } else if (!live.empty()) {
        const std::size_t k = rng() % live.size();
        Block b = live[k];
        live[k] = live.back();
        live.pop_back();
        if (cross_thread && rng() % 4 == 0) {
          if (verify(b.p, b.n, b.tag) != b.n) bad.fetch_add(1);
          std::lock_guard<std::mutex> g(shared_mu);
          shared.push_back(b);
          continue;
        }
        check_free(b);
      }
      if (cross_thread && i % 64 == 0) {
        std::vector<Block> mine;
        {
          std::lock_guard<std::mutex> g(shared_mu);
          mine.swap(shared);
        }
        for (const Block& b : mine) check_free(b);
      }
    }
    for (const Block& b : live) check_free(b);
    if constexpr (HasThreadExit<A>) a.thread_exit();
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker, t);
  for (auto& th : pool) th.join();
  for (const Block& b : shared) check_free(b);
  return bad.load();
}

}  // namespace allocmark::testing
