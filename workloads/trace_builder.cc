// TraceBuilder: splits a globally ordered event sequence into per-thread streams with
// cross-thread dependencies and a schedule. Layer: workloads.
#include "workloads/trace_builder.h"

#include <algorithm>
#include <bit>
#include <utility>

namespace allocmark {

uint32_t TraceBuilder::thread(uint64_t key) {
  auto [it, inserted] = thread_keys_.try_emplace(key, static_cast<uint32_t>(threads_.size()));
  if (inserted) {
    threads_.emplace_back();
    counts_.push_back(0);
    exited_.push_back(0);
  }
  return it->second;
}

bool TraceBuilder::fail(std::string message) {
  error_ = std::move(message);
  return false;
}

bool TraceBuilder::check_thread(uint32_t thread) {
  if (thread >= threads_.size()) return fail("unknown thread index " + std::to_string(thread));
  if (exited_[thread]) return fail("event on thread " + std::to_string(thread) + " after its exit");
  return true;
}

// A new life for obj on `thread` with `size` bytes; nullptr (error set) on misuse. A held
// object's state is the caller's (its id fresh from new_object(), so the checks have nothing to
// find).
TraceBuilder::ObjectLife* TraceBuilder::begin_life(uint32_t thread, uint32_t obj, uint64_t size,
                                                   const char* what, ObjectLife* held) {
  if (obj == kNoObject) return fail(std::string(what) + " of the reserved object id"), nullptr;
  ObjectLife* o = held;
  if (!held) {
    if (objects_.find(obj))
      return fail(std::string(what) + " of object " + std::to_string(obj) + " already live"),
             nullptr;
    if (objects_.seen(obj))
      return fail(std::string(what) + " reuses object id " + std::to_string(obj)), nullptr;
    ObjectState& state = objects_.insert(obj);
    state.phase_owner = thread;
    o = &state;
  }
  if (obj >= next_object_) next_object_ = obj + 1;
  o->last_thread = thread;
  o->last_index = counts_[thread];  // the event about to be appended
  o->size = size;
  add_live(size);
  return o;
}

TraceBuilder::ObjectLife* TraceBuilder::require_live(uint32_t obj, const char* what,
                                                     ObjectLife* held) {
  if (held) return held;
  ObjectLife* o = objects_.find(obj);
  if (!o) fail(std::string(what) + " of object " + std::to_string(obj) + " which is not live");
  return o;
}

void TraceBuilder::add_live(uint64_t bytes) {
  live_bytes_ += bytes;
  if (live_bytes_ > peak_live_bytes_) peak_live_bytes_ = live_bytes_;
}

// Appends e to `thread`, adding a dependency when e touches an object (o, looked up by the
// caller) whose last event ran on another thread. A birth starts on its own thread.
void TraceBuilder::append(uint32_t thread, Event e, ObjectLife* o) {
  const uint32_t index = counts_[thread]++;
  if (o) {
    if (o->last_thread != thread) {
      e.flags |= kFlagHasDep;
      e.dep_thread = o->last_thread;
      e.dep_index = o->last_index;
    }
    o->last_thread = thread;
    o->last_index = index;
  }
  ++events_;
  if (writer_) {
    writer_->add(thread, e);
    return;
  }
  threads_[thread].events.push_back(e);
  if (!schedule_.empty() && schedule_.back().thread == thread) {
    ++schedule_.back().count;
  } else {
    schedule_.push_back({thread, 1});
  }
}

static Event make_event(Op op, uint32_t obj, uint64_t size, uint16_t flags = 0) {
  Event e{};
  e.op = op;
  e.obj = obj;
  e.size = size;
  e.flags = flags;
  return e;
}

bool TraceBuilder::malloc(uint32_t thread, uint32_t obj, uint64_t size, uint16_t flags,
                          ObjectLife* held) {
  if (!check_thread(thread)) return false;
  ObjectLife* o = begin_life(thread, obj, size, "malloc", held);
  if (!o) return false;
  append(thread, make_event(Op::kMalloc, obj, size, flags & kFlagCxx), o);
  return true;
}

bool TraceBuilder::calloc(uint32_t thread, uint32_t obj, uint64_t nmemb, uint64_t elem_size,
                          ObjectLife* held) {
  if (!check_thread(thread)) return false;
  if (nmemb > UINT32_MAX) return fail("calloc nmemb " + std::to_string(nmemb) + " too large");
  uint64_t total = 0;
  if (__builtin_mul_overflow(nmemb, elem_size, &total)) return fail("calloc size overflows");
  ObjectLife* o = begin_life(thread, obj, total, "calloc", held);
  if (!o) return false;
  Event e = make_event(Op::kCalloc, obj, total);
  e.aux = static_cast<uint32_t>(nmemb);
  append(thread, e, o);
  return true;
}

bool TraceBuilder::aligned_alloc(uint32_t thread, uint32_t obj, uint64_t align, uint64_t size,
                                 uint16_t flags, ObjectLife* held) {
  if (!check_thread(thread)) return false;
  if (align == 0 || !std::has_single_bit(align))
    return fail("alignment " + std::to_string(align) + " is not a power of two");
  ObjectLife* o = begin_life(thread, obj, size, "aligned allocation", held);
  if (!o) return false;
  Event e = make_event(Op::kAlignedAlloc, obj, size, flags & kFlagCxx);
  e.align_log2 = static_cast<uint8_t>(std::countr_zero(align));
  append(thread, e, o);
  return true;
}

bool TraceBuilder::realloc(uint32_t thread, uint32_t obj, uint64_t new_size, ObjectLife* held) {
  if (!check_thread(thread)) return false;
  ObjectLife* o = require_live(obj, "realloc", held);
  if (!o) return false;
  append(thread, make_event(Op::kRealloc, obj, new_size), o);
  live_bytes_ -= o->size;
  add_live(new_size);
  o->size = new_size;
  return true;
}

bool TraceBuilder::realloc_from_null(uint32_t thread, uint32_t obj, uint64_t size,
                                     ObjectLife* held) {
  if (!check_thread(thread)) return false;
  ObjectLife* o = begin_life(thread, obj, size, "realloc(NULL)", held);
  if (!o) return false;
  append(thread, make_event(Op::kRealloc, obj, size, kFlagFromNull), o);
  return true;
}

bool TraceBuilder::free(uint32_t thread, uint32_t obj, uint16_t flags, ObjectLife* held) {
  if (!check_thread(thread)) return false;
  ObjectLife* o = require_live(obj, "free", held);
  if (!o) return false;
  append(thread, make_event(Op::kFree, obj, o->size, flags & (kFlagSizedFree | kFlagPhaseFree)), o);
  live_bytes_ -= o->size;
  if (!held) objects_.erase(obj);
  return true;
}

bool TraceBuilder::access(uint32_t thread, uint32_t obj, uint64_t offset, uint64_t length) {
  if (!check_thread(thread)) return false;
  ObjectLife* o = require_live(obj, "access", nullptr);
  if (!o) return false;
  const uint64_t size = o->size;
  if (offset > size || length > size - offset || offset > UINT32_MAX)
    return fail("access [" + std::to_string(offset) + ", +" + std::to_string(length) +
                ") outside object " + std::to_string(obj) + " of " + std::to_string(size) +
                " bytes");
  Event e = make_event(Op::kAccess, obj, length);
  e.aux = static_cast<uint32_t>(offset);
  append(thread, e, o);
  return true;
}

bool TraceBuilder::phase_end(uint32_t thread) {
  if (!check_thread(thread)) return false;
  // The thread's live objects are exactly those of its current phase (its earlier ones were
  // freed at its earlier phase ends), freed in allocation order (ids are handed out in it).
  // Cost: a pass over the live table per phase end, not a list per thread kept for ever.
  std::vector<uint32_t> owned;
  objects_.for_each([&](uint32_t id, const ObjectState& o) {
    if (o.phase_owner == thread) owned.push_back(id);
  });
  std::sort(owned.begin(), owned.end());
  for (uint32_t obj : owned) free(thread, obj, kFlagPhaseFree);
  append(thread, make_event(Op::kPhaseEnd, kNoObject, 0), nullptr);
  return true;
}

bool TraceBuilder::thread_exit(uint32_t thread) {
  if (!check_thread(thread)) return false;
  append(thread, make_event(Op::kThreadExit, kNoObject, 0), nullptr);
  exited_[thread] = 1;
  return true;
}

Trace TraceBuilder::finish() {
  Trace t;
  t.threads = std::move(threads_);
  t.schedule = std::move(schedule_);
  t.object_count = next_object_;
  t.metadata_json = std::move(metadata_json_);
  *this = TraceBuilder();
  return t;
}

}  // namespace allocmark
