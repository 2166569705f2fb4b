// The in-memory trace model: per-thread event streams over dense object ids.
// Layer: workloads (depends on nothing of ours). The replay engine reads this model directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/mmap_allocator.h"

namespace allocmark {

// What an event does. Values are part of the trace formats (v1 and v2, workloads/FORMAT.md):
// append only.
enum class Op : uint8_t {
  kMalloc = 0,        // obj becomes live with `size` bytes
  kCalloc = 1,        // as malloc, zeroed; `aux` = nmemb, size = nmemb * element size
  kRealloc = 2,       // obj (live, or not live with kFlagFromNull) takes the new `size`
  kFree = 3,          // obj stops being live; its size is known, so sized free is always possible
  kAlignedAlloc = 4,  // as malloc with alignment 1 << align_log2
  kPhaseEnd = 5,      // arena-style bulk release point; the phase's frees are listed before it
  kAccess = 6,        // write `size` bytes at offset `aux` into live obj (cache workloads)
  kThreadExit = 7,    // the thread ends here (thread start is the first event of its stream)
};
inline constexpr int kOpCount = 8;
const char* op_name(Op op) noexcept;

// Event flags (bit set in Event::flags).
inline constexpr uint16_t kFlagFromNull = 1u << 0;   // realloc(NULL, size)
inline constexpr uint16_t kFlagSizedFree = 1u << 1;  // program used sized free / sized delete
inline constexpr uint16_t kFlagPhaseFree = 1u << 2;  // free emitted by a phase end (arena: no-op)
inline constexpr uint16_t kFlagHasDep = 1u << 3;     // dep_thread/dep_index are meaningful
inline constexpr uint16_t kFlagCxx = 1u << 4;        // allocation came from operator new
inline constexpr uint16_t kFlagsKnown = (1u << 5) - 1;

inline constexpr uint32_t kNoObject = UINT32_MAX;

// One event. 32 bytes; decoded into an mmap'd array before timing starts.
// A dependency says: this event may run only after event `dep_index` of thread `dep_thread`
// has run. Writers add one wherever an object crosses threads (free/realloc/access of an object
// last touched by another thread), so concurrent replay keeps the recorded order.
struct Event {
  uint64_t size;        // bytes requested (total bytes for calloc)
  uint32_t obj;         // dense object id, kNoObject for kPhaseEnd / kThreadExit
  uint32_t aux;         // calloc: nmemb; access: offset; otherwise 0
  uint32_t dep_thread;  // valid with kFlagHasDep
  uint32_t dep_index;   // index into dep_thread's stream
  Op op;
  uint8_t align_log2;  // alignment = 1 << align_log2 (0 = default malloc alignment requested)
  uint16_t flags;
  uint32_t reserved;
};
static_assert(sizeof(Event) == 32, "Event layout is part of the replay hot loop");

struct ThreadStream {
  MmapVector<Event> events;  // mmap-backed: see base/mmap_allocator.h
};

// A whole trace. `schedule` (optional, may be empty) is the recorded global order as runs of
// (thread, count): serial replay follows it, and exact peak live bytes are computed along it.
struct ScheduleRun {
  uint32_t thread;
  uint32_t count;
};

struct Trace {
  std::vector<ThreadStream> threads;
  MmapVector<ScheduleRun> schedule;
  uint32_t object_count = 0;
  std::string metadata_json = "{}";  // provenance: source, generator and parameters

  uint64_t event_count() const noexcept;
};

// Facts computed by walking a trace in schedule order (or a dependency-respecting round robin
// when it has no schedule). Used by `trace info`, by validation and by the results.
struct TraceSummary {
  uint64_t events = 0;
  uint64_t by_op[kOpCount] = {};
  uint32_t threads = 0;
  uint32_t objects = 0;
  uint64_t peak_live_bytes = 0;
  uint64_t final_live_bytes = 0;
  uint64_t final_live_objects = 0;
  uint64_t peak_live_objects = 0;
  // A one-thread trace with phase ends, each leaving nothing live: an arena's reset() may stand
  // in for the frees before them.
  bool phase_ends_empty = false;
  uint64_t cross_thread_frees = 0;
  uint64_t dependencies = 0;
  uint64_t total_allocated_bytes = 0;
  uint64_t size_histogram[65] = {};  // allocations by bit length of size (0 = size 0)
  // Lifetimes of freed objects, in events of the recorded order between allocation and free,
  // by bit length (objects still live at the end are final_live_objects).
  uint64_t lifetime_histogram[65] = {};
};

}  // namespace allocmark
