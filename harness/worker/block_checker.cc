// The `--check` verifier of returned blocks. Layer: harness (worker side).
#include "harness/worker/block_checker.h"

#include <cstdarg>
#include <cstring>

namespace allocmark {
namespace {

// First byte in [p, p+n) that differs from `value`, or n.
uint64_t first_mismatch(const uint8_t* p, uint64_t n, uint8_t value) {
  for (uint64_t i = 0; i < n; ++i)
    if (p[i] != value) return i;
  return n;
}

}  // namespace

bool BlockChecker::fail(uint32_t thread, uint64_t index, const Event& e, const char* what, ...) {
  int n =
      std::snprintf(problem_, sizeof problem_, "thread %u event %llu (%s of object %u): ", thread,
                    static_cast<unsigned long long>(index), op_name(e.op), e.obj);
  va_list ap;
  va_start(ap, what);
  std::vsnprintf(problem_ + n, sizeof problem_ - static_cast<size_t>(n), what, ap);
  va_end(ap);
  return false;
}

bool BlockChecker::insert(uint32_t thread, uint64_t index, const Event& e, uintptr_t start,
                          uint64_t size) {
  const uintptr_t end = start + (size ? size : 1);  // a zero-size block still owns its address
  auto next = live_.lower_bound(start);
  if (next != live_.end() && next->first < end)
    return fail(thread, index, e, "block [%#lx, +%llu) overlaps live object %u at %#lx",
                static_cast<unsigned long>(start), static_cast<unsigned long long>(size),
                next->second.second, static_cast<unsigned long>(next->first));
  if (next != live_.begin()) {
    auto prev = std::prev(next);
    if (prev->second.first > start)
      return fail(thread, index, e, "block [%#lx, +%llu) overlaps live object %u at %#lx",
                  static_cast<unsigned long>(start), static_cast<unsigned long long>(size),
                  prev->second.second, static_cast<unsigned long>(prev->first));
  }
  live_.emplace_hint(next, start, std::make_pair(end, e.obj));
  return true;
}

bool BlockChecker::on_allocate(uint32_t thread, uint64_t index, const Event& e, void* p,
                               uint64_t size, size_t align, bool expect_zero) {
  const auto addr = reinterpret_cast<uintptr_t>(p);
  // Without an explicit alignment, malloc owes the fundamental alignment (16 on x86-64) to any
  // block that can hold an object needing it, and at least the size's own power of two below.
  size_t need = align;
  if (!need) {
    need = 16;
    while (need > 1 && need > size) need >>= 1;
  }
  if (addr & (need - 1)) return fail(thread, index, e, "returned %p, not aligned to %zu", p, need);
  if (expect_zero) {
    const uint64_t bad = first_mismatch(static_cast<uint8_t*>(p), size, 0);
    if (bad != size)
      return fail(thread, index, e, "calloc block is not zeroed at byte %llu",
                  static_cast<unsigned long long>(bad));
  }
  std::lock_guard<std::mutex> g(mu_);
  if (!insert(thread, index, e, addr, size)) return false;
  std::memset(p, pattern(e.obj), size);
  return true;
}

bool BlockChecker::on_release(uint32_t thread, uint64_t index, const Event& e, void* p,
                              uint64_t size) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = live_.find(reinterpret_cast<uintptr_t>(p));
  if (it == live_.end()) return fail(thread, index, e, "block %p is not live in the checker", p);
  const uint64_t bad = first_mismatch(static_cast<uint8_t*>(p), size, pattern(e.obj));
  if (bad != size)
    return fail(thread, index, e,
                "byte %llu of the block changed while it was live (another "
                "block overlaps it, or the allocator wrote into it)",
                static_cast<unsigned long long>(bad));
  live_.erase(it);
  return true;
}

bool BlockChecker::on_reallocate(uint32_t thread, uint64_t index, const Event& e, void* p,
                                 uint64_t old_size, uint64_t new_size) {
  const uint64_t kept = old_size < new_size ? old_size : new_size;
  const uint64_t bad = first_mismatch(static_cast<uint8_t*>(p), kept, pattern(e.obj));
  if (bad != kept)
    return fail(thread, index, e, "realloc lost byte %llu of the old contents",
                static_cast<unsigned long long>(bad));
  // Re-register the block at its (possibly new) place with its new size; the fill of the kept
  // prefix is already right.
  std::lock_guard<std::mutex> g(mu_);
  const auto addr = reinterpret_cast<uintptr_t>(p);
  if (!insert(thread, index, e, addr, new_size)) return false;
  std::memset(static_cast<uint8_t*>(p) + kept, pattern(e.obj), new_size - kept);
  return true;
}

}  // namespace allocmark
