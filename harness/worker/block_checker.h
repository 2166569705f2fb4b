// `--check`: verifies every block an allocator returns (alignment, no overlap with any live block,
// contents kept until free) and names the first bad event. Layer: harness (worker side).
// Costs a mutex, a tree lookup and a full fill per allocation: check runs are not timed runs.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>

#include "workloads/trace.h"

namespace allocmark {

class BlockChecker {
 public:
  // Each returns false on the first problem and keeps its description (fixed buffer).
  bool on_allocate(uint32_t thread, uint64_t index, const Event& e, void* p, uint64_t size,
                   size_t align, bool expect_zero);
  // Before a free or a realloc: the block's bytes must still hold the fill pattern.
  bool on_release(uint32_t thread, uint64_t index, const Event& e, void* p, uint64_t size);
  // After a realloc moved or resized the block: the kept prefix must have survived.
  bool on_reallocate(uint32_t thread, uint64_t index, const Event& e, void* p, uint64_t old_size,
                     uint64_t new_size);

  const char* problem() const { return problem_; }
  static uint8_t pattern(uint32_t obj) { return static_cast<uint8_t>((obj * 0x9Eu) | 1u); }

 private:
  bool fail(uint32_t thread, uint64_t index, const Event& e, const char* what, ...)
      __attribute__((format(printf, 5, 6)));
  bool insert(uint32_t thread, uint64_t index, const Event& e, uintptr_t start, uint64_t size);

  std::mutex mu_;
  // start -> (end, object): the live blocks. Its nodes come from operator new, which in the
  // worker is the worker's own heap (worker_heap.cc): a broken allocator under test can neither
  // corrupt them nor be called by the checker.
  std::map<uintptr_t, std::pair<uintptr_t, uint32_t>> live_;
  char problem_[320] = "";
};

}  // namespace allocmark
