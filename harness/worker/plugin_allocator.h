// PluginAllocator: an out-of-tree allocator loaded with dlopen, seen through the C table of
// include/allocmark/plugin.h and adapted to the allocator concept. Layer: harness (worker side).
#pragma once

#include <cstddef>
#include <cstring>
#include <string>

#include "allocators/allocator.h"
#include "allocmark/plugin.h"

namespace allocmark {

// What the worker learns from a plugin without creating its allocator.
struct PluginInfo {
  std::string name;
  std::string version;
  uint32_t abi_version = 0;
  uint32_t struct_size = 0;
};

// Loads `path` and checks its table (symbol, ABI version, struct size, required members).
// On success *table points into the loaded library, which stays loaded for the process's life.
// False with *error, one line naming the file ("plugin /x.so: exports no allocmark_plugin_v1").
// Not thread-safe (dlopen runs the library's constructors); call before replay threads start.
bool load_plugin(const std::string& path, const allocmark_plugin_table_v1** table, PluginInfo* info,
                 std::string* error);

// The worker's answer to the parent's `--describe 1` probe: one JSON object,
// {"status":"ok","name":...,"version":...,"abi_version":N} or {"status":"error","detail":...}.
// Loads the plugin but never calls create.
std::string plugin_describe_json(const std::string& path);

// Satisfies Allocator, Reallocating, Resettable, HasStats and HasThreadExit; the optional members
// the plugin leaves NULL become fallbacks (reallocate: allocate + copy + free) or no-ops (reset,
// stats, thread_exit). Because Resettable is a compile-time property, the worker must ask
// can_reset() and keep the phase frees when it is false.
//
// Cost: every call is one indirect call through the table (not inlinable, ~1-2 ns) plus a load
// of the table pointer; a plugin's figures include it, a native allocator's do not.
// Thread-safety: what the plugin provides (the header requires thread-safe members).
class PluginAllocator {
 public:
  PluginAllocator() = default;
  PluginAllocator(const PluginAllocator&) = delete;
  PluginAllocator& operator=(const PluginAllocator&) = delete;
  ~PluginAllocator();

  // Loads the plugin and calls its create(options). False with *error (one line).
  bool open(const std::string& path, const std::string& options, std::string* error);

  const PluginInfo& info() const { return info_; }
  bool can_reset() const { return table_->reset != nullptr; }

  void* allocate(std::size_t n, std::size_t align) noexcept { return allocate_(state_, n, align); }
  // The replay frees what a size-0 request returned, which may be null: plugins never see null.
  void deallocate(void* p, std::size_t n, std::size_t align) noexcept {
    if (p) deallocate_(state_, p, n, align);
  }
  void* reallocate(void* p, std::size_t old_n, std::size_t n, std::size_t align) noexcept {
    if (!p) return allocate_(state_, n, align);
    if (table_->reallocate) return table_->reallocate(state_, p, old_n, n, align);
    return reallocate_by_copy(p, old_n, n, align);
  }
  void reset() noexcept {
    if (table_->reset) table_->reset(state_);
  }
  AllocatorStats stats() const noexcept;
  void thread_exit() noexcept {
    if (table_->thread_exit) table_->thread_exit(state_);
  }

 private:
  void* reallocate_by_copy(void* p, std::size_t old_n, std::size_t n, std::size_t align) noexcept;

  // The two hot members copied out of the table: one load fewer per call.
  void* (*allocate_)(void*, size_t, size_t) = nullptr;
  void (*deallocate_)(void*, void*, size_t, size_t) = nullptr;
  void* state_ = nullptr;
  const allocmark_plugin_table_v1* table_ = nullptr;
  PluginInfo info_;
};

// The v1 table is an ABI: members are only appended, never moved (LP64 layout pinned here).
static_assert(sizeof(void*) != 8 || sizeof(allocmark_plugin_table_v1) == 88);
static_assert(sizeof(allocmark_plugin_stats) == 40);

static_assert(Allocator<PluginAllocator> && Reallocating<PluginAllocator> &&
              Resettable<PluginAllocator> && HasStats<PluginAllocator> &&
              HasThreadExit<PluginAllocator>);

}  // namespace allocmark
