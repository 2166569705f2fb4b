// The in-house allocators the harness replays natively (templated, so their fast paths inline),
// in one list keyed by each options table's kName. Adding one is its files plus one entry here:
// the worker constructs it by name, `allocmark list` shows it, and `run` checks its options.
// Layer: allocators (leaf). Header-only, compile-time: no cost at run time.
#pragma once

#include <string_view>
#include <tuple>

#include "allocators/arena.h"
#include "allocators/bump.h"
#include "allocators/pool.h"

namespace allocmark {

template <class O, class A>
struct NativeAllocator {
  using Options = O;
  using Alloc = A;
  static constexpr std::string_view name() { return O::kName; }
  std::string_view description;
};

inline constexpr std::tuple kNativeAllocators{
    NativeAllocator<BumpOptions, Bump>{"in-house bump allocator, native sized API"},
    NativeAllocator<ArenaOptions, Arena>{"in-house arena (chunks, bulk reset), native sized API"},
    NativeAllocator<PoolOptions, Pool>{
        "in-house size-class pools with thread caches, native sized API"},
};

// Calls fn(entry) for every native allocator, in list order.
template <class Fn>
constexpr void for_each_native_allocator(Fn&& fn) {
  std::apply([&](const auto&... entry) { (fn(entry), ...); }, kNativeAllocators);
}

// Calls fn(entry) for the native allocator called `name`; false when there is none.
template <class Fn>
constexpr bool with_native_allocator_entry(std::string_view name, Fn&& fn) {
  bool found = false;
  for_each_native_allocator([&](const auto& entry) {
    if (!found && entry.name() == name) {
      found = true;
      fn(entry);
    }
  });
  return found;
}

}  // namespace allocmark
