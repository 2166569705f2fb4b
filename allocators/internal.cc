// Definitions for internal.h: the process-wide instance id counter.
// Layer: allocators (leaf).
#include "allocators/internal.h"

namespace allocmark {

uint64_t next_instance_id() noexcept {
  // Starts at 1: zero-initialised thread-local slots (owner 0) never match a live instance.
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace allocmark
