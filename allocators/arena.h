// Arena allocator: a growing list of chunks, bump allocation inside each, one bulk release.
// Layer: allocators (leaf). Per-object free is a no-op; reset() and marks give memory back.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "allocators/allocator.h"
#include "allocators/bump_slot.h"
#include "allocators/internal.h"
#include "allocators/options.h"

namespace allocmark {

struct ArenaOptions {
  static constexpr std::string_view kName = "arena";
  // Size of an ordinary chunk (mapped with MAP_NORESERVE; pages are committed as touched).
  std::size_t chunk_size = std::size_t{1} << 20;
  // Requests above chunk_size / large_divisor get a chunk of their own so they do not waste the
  // tail of the current one.
  std::size_t large_divisor = 4;
  // Ordinary chunks kept mapped (warm) across reset() and rollback() for the next phase.
  std::size_t warm_chunks = 1;
  // Cap on bytes mapped at once (0 = unlimited); past it allocation returns null.
  std::size_t max_bytes = 0;

  static constexpr auto options_table() {
    using S = OptionSpec<ArenaOptions>;
    return std::array{
        S{.key = "chunk_size",
          .kind = OptionKind::kSize,
          .number = &ArenaOptions::chunk_size,
          .min = 4096,
          .max = std::size_t{1} << 40,
          .power_of_two = true,
          .help = "bytes per ordinary chunk"},
        S{.key = "large_divisor",
          .kind = OptionKind::kCount,
          .number = &ArenaOptions::large_divisor,
          .min = 1,
          .max = 1024,
          .help = "requests above chunk_size/large_divisor get their own chunk"},
        S{.key = "warm_chunks",
          .kind = OptionKind::kCount,
          .number = &ArenaOptions::warm_chunks,
          .max = 1024,
          .help = "chunks kept mapped across reset"},
        S{.key = "max_bytes",
          .kind = OptionKind::kSize,
          .number = &ArenaOptions::max_bytes,
          .help = "cap on mapped bytes, 0 = none"},
    };
  }
};

// A saved point to roll back to (see Arena::mark). Plain value; valid until the arena is reset.
struct ArenaMark {
  void* chunk = nullptr;  // newest chunk at mark time
  uintptr_t cursor = 0;   // the marking thread's position in its chunk (0: it had none)
  uintptr_t limit = 0;
  uint64_t epoch = 0;
};

// Thread-safety: allocate, deallocate and reallocate may be called from many threads at once:
// each thread bumps inside a chunk of its own (a thread-local slot), and only taking a new
// chunk locks (a spin lock, once per chunk_size bytes). reset(), mark() and rollback() are
// phase operations: no other thread may use the arena while they run.
// Failure: null when the OS refuses a chunk or max_bytes would be exceeded; never throws.
class Arena {
 public:
  Arena() : Arena(ArenaOptions{}) {}
  explicit Arena(const ArenaOptions& options);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Fast path: Bump's (TLS slot load, then bump_allocate from bump_slot.h; about 12
  // instructions, no atomic). Zero size takes the slow path (unique block).
  ALLOCMARK_ALWAYS_INLINE void* allocate(std::size_t n, std::size_t align) noexcept {
    return bump_allocate(slots_[id_ & (kSlots - 1)], id_, n, align,
                         [&]() ALLOCMARK_LAMBDA_INLINE { return allocate_slow(n, align); });
  }

  // No-op by design: memory comes back only through reset() or rollback().
  ALLOCMARK_ALWAYS_INLINE void deallocate(void*, std::size_t, std::size_t) noexcept {}

  // Realloc policy, cheapest first (p must come from this arena; any thread may call it):
  //  1. p is this thread's most recent block and its chunk has room: only the cursor moves
  //     (grow or shrink in place, bump-style; a shrink gives the tail back). No copy.
  //  2. p was moved by an earlier realloc on this thread: it was given 50 % headroom then, and
  //     growth within it stays in place. A per-thread table remembers such blocks (512
  //     entries direct-mapped by a multiplicative hash of the address, 8 KiB carved from the
  //     thread's own chunk, a multiply, one load and two compares to look up); a collision
  //     forgets the older block's headroom, which then costs one more copy. The table is
  //     forgotten at reset() and rollback().
  //  3. Shrinking never moves. Otherwise allocate n + n/2, copy old_n bytes, remember the
  //     headroom. The old block stays until reset (per-object free is a no-op).
  // Trade: blocks that move hold up to 1.5x their size, and a block grown step by step is
  // copied O(log n) times instead of once per step. Null (p untouched) when no memory.
  void* reallocate(void* p, std::size_t old_n, std::size_t n, std::size_t align) noexcept;

  // Frees every block at once. Keeps warm_chunks ordinary chunks mapped (and their pages
  // committed) for the next phase; returns the rest to the OS.
  void reset() noexcept;

  // Saves the current point; rollback(m) frees every chunk taken after it and puts the calling
  // thread's cursor back. Marks nest (roll back in LIFO order). Other threads' current chunks are
  // forgotten by a rollback (their unused tails stay idle until reset). rollback() returns false
  // and does nothing when a reset happened since the mark.
  ArenaMark mark() noexcept;
  bool rollback(const ArenaMark& m) noexcept;

  AllocatorStats stats() const noexcept;
  const ArenaOptions& options() const noexcept { return options_; }
  std::size_t chunk_count() const noexcept;

  // For the malloc shim's fork handlers: hold the chunk lock across fork().
  void lock_all() noexcept { lock_.lock(); }
  void unlock_all() noexcept { lock_.unlock(); }

 private:
  struct Chunk {
    Chunk* next;       // older chunk
    std::size_t size;  // bytes mapped, header included
  };
  static constexpr std::size_t kHeader = 64;  // chunk payload starts on its own cache line
  static_assert(sizeof(Chunk) <= kHeader);

  // A thread's view of one Arena (its current chunk), direct-mapped by instance id.
  using Slot = BumpSlot;
  static constexpr std::size_t kSlots = kBumpSlots;
  static ALLOCMARK_THREAD_LOCAL Slot slots_[kSlots];

  // Headroom of blocks moved by reallocate (policy 2). The table lives in arena memory, so only
  // its pointer is thread-local (static TLS stays small for the malloc shim).
  struct GrowEntry {
    uintptr_t block;
    uintptr_t end;  // first byte past the block's reserved room
  };
  static constexpr std::size_t kGrowEntries = 512;  // power of two
  static std::size_t grow_key(uintptr_t a) noexcept {
    return static_cast<std::size_t>(((a >> 4) * 0x9E3779B97F4A7C15ull) >> 55);  // 9 bits
  }
  static_assert(kGrowEntries == 512, "grow_key returns 9 bits");
  struct GrowSlot {
    uint64_t owner;  // id_ the table belongs to: a reset or rollback invalidates it
    GrowEntry* table;
  };
  static ALLOCMARK_THREAD_LOCAL GrowSlot grow_slots_[kSlots];
  GrowEntry* grow_table() noexcept;  // this thread's table, made on first use; null if no memory

  ALLOCMARK_SLOW void* allocate_slow(std::size_t n, std::size_t align) noexcept;
  Chunk* new_chunk_locked(std::size_t payload) noexcept;  // maps or reuses a warm chunk
  void free_chunk_locked(Chunk* c) noexcept;              // keeps it warm or unmaps it

  ArenaOptions options_;
  uint64_t id_;
  uint64_t epoch_ = 1;
  mutable SpinLock lock_;
  Chunk* head_ = nullptr;  // newest first
  Chunk* warm_ = nullptr;  // unused ordinary chunks kept mapped
  std::size_t warm_count_ = 0;
  std::size_t chunk_count_ = 0;
  uint64_t bytes_mapped_ = 0;
  uint64_t os_maps_ = 0;
  uint64_t os_unmaps_ = 0;
};

static_assert(Allocator<Arena> && Reallocating<Arena> && Resettable<Arena> && HasStats<Arena>);

}  // namespace allocmark
