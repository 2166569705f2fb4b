// TraceBuilder: splits a globally ordered event sequence into per-thread streams with
// cross-thread dependencies and a schedule. Layer: workloads.
#include "workloads/trace_builder.h"

#include <bit>
#include <utility>

namespace allocmark {

uint32_t TraceBuilder::thread(uint64_t key) {
  auto [it, inserted] = thread_keys_.try_emplace(key, static_cast<uint32_t>(threads_.size()));
  if (inserted) {
    threads_.emplace_back();
    phase_objects_.emplace_back();
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

TraceBuilder::ObjectState& TraceBuilder::object(uint32_t obj) {
  if (obj >= objects_.size()) objects_.resize(static_cast<size_t>(obj) + 1);
  if (obj >= next_object_) next_object_ = obj + 1;
  return objects_[obj];
}

bool TraceBuilder::begin_life(uint32_t thread, uint32_t obj, const char* what) {
  if (obj == kNoObject) return fail(std::string(what) + " of the reserved object id");
  ObjectState& o = object(obj);
  if (o.live)
    return fail(std::string(what) + " of object " + std::to_string(obj) + " already live");
  if (o.was_live) return fail(std::string(what) + " reuses object id " + std::to_string(obj));
  o.phase_owner = thread;
  phase_objects_[thread].push_back(obj);
  return true;
}

bool TraceBuilder::require_live(uint32_t obj, const char* what) {
  if (obj >= objects_.size() || !objects_[obj].live)
    return fail(std::string(what) + " of object " + std::to_string(obj) + " which is not live");
  return true;
}

// Appends e to `thread`, adding a dependency when e touches an object whose last event ran on
// another thread. Cost: one object-table lookup per event.
bool TraceBuilder::append(uint32_t thread, Event e) {
  auto& stream = threads_[thread].events;
  const uint32_t index = static_cast<uint32_t>(stream.size());
  if (e.obj != kNoObject) {
    ObjectState& o = objects_[e.obj];
    if (o.was_live || o.live) {
      if (o.last_thread != thread) {
        e.flags |= kFlagHasDep;
        e.dep_thread = o.last_thread;
        e.dep_index = o.last_index;
      }
    }
    o.last_thread = thread;
    o.last_index = index;
  }
  stream.push_back(e);
  if (!schedule_.empty() && schedule_.back().thread == thread) {
    ++schedule_.back().count;
  } else {
    schedule_.push_back({thread, 1});
  }
  ++events_;
  return true;
}

static Event make_event(Op op, uint32_t obj, uint64_t size, uint16_t flags = 0) {
  Event e{};
  e.op = op;
  e.obj = obj;
  e.size = size;
  e.flags = flags;
  return e;
}

bool TraceBuilder::malloc(uint32_t thread, uint32_t obj, uint64_t size, uint16_t flags) {
  if (!check_thread(thread) || !begin_life(thread, obj, "malloc")) return false;
  append(thread, make_event(Op::kMalloc, obj, size, flags & kFlagCxx));
  ObjectState& o = objects_[obj];
  o.live = true;
  o.size = size;
  return true;
}

bool TraceBuilder::calloc(uint32_t thread, uint32_t obj, uint64_t nmemb, uint64_t elem_size) {
  if (!check_thread(thread)) return false;
  if (nmemb > UINT32_MAX) return fail("calloc nmemb " + std::to_string(nmemb) + " too large");
  uint64_t total = 0;
  if (__builtin_mul_overflow(nmemb, elem_size, &total)) return fail("calloc size overflows");
  if (!begin_life(thread, obj, "calloc")) return false;
  Event e = make_event(Op::kCalloc, obj, total);
  e.aux = static_cast<uint32_t>(nmemb);
  append(thread, e);
  objects_[obj].live = true;
  objects_[obj].size = total;
  return true;
}

bool TraceBuilder::aligned_alloc(uint32_t thread, uint32_t obj, uint64_t align, uint64_t size,
                                 uint16_t flags) {
  if (!check_thread(thread)) return false;
  if (align == 0 || !std::has_single_bit(align))
    return fail("alignment " + std::to_string(align) + " is not a power of two");
  if (!begin_life(thread, obj, "aligned allocation")) return false;
  Event e = make_event(Op::kAlignedAlloc, obj, size, flags & kFlagCxx);
  e.align_log2 = static_cast<uint8_t>(std::countr_zero(align));
  append(thread, e);
  objects_[obj].live = true;
  objects_[obj].size = size;
  return true;
}

bool TraceBuilder::realloc(uint32_t thread, uint32_t obj, uint64_t new_size) {
  if (!check_thread(thread) || !require_live(obj, "realloc")) return false;
  append(thread, make_event(Op::kRealloc, obj, new_size));
  objects_[obj].size = new_size;
  return true;
}

bool TraceBuilder::realloc_from_null(uint32_t thread, uint32_t obj, uint64_t size) {
  if (!check_thread(thread) || !begin_life(thread, obj, "realloc(NULL)")) return false;
  append(thread, make_event(Op::kRealloc, obj, size, kFlagFromNull));
  objects_[obj].live = true;
  objects_[obj].size = size;
  return true;
}

bool TraceBuilder::free(uint32_t thread, uint32_t obj, uint16_t flags) {
  if (!check_thread(thread) || !require_live(obj, "free")) return false;
  ObjectState& o = objects_[obj];
  append(thread, make_event(Op::kFree, obj, o.size, flags & (kFlagSizedFree | kFlagPhaseFree)));
  o.live = false;
  o.was_live = true;
  return true;
}

bool TraceBuilder::access(uint32_t thread, uint32_t obj, uint64_t offset, uint64_t length) {
  if (!check_thread(thread) || !require_live(obj, "access")) return false;
  const uint64_t size = objects_[obj].size;
  if (offset > size || length > size - offset || offset > UINT32_MAX)
    return fail("access [" + std::to_string(offset) + ", +" + std::to_string(length) +
                ") outside object " + std::to_string(obj) + " of " + std::to_string(size) +
                " bytes");
  Event e = make_event(Op::kAccess, obj, length);
  e.aux = static_cast<uint32_t>(offset);
  append(thread, e);
  return true;
}

bool TraceBuilder::phase_end(uint32_t thread) {
  if (!check_thread(thread)) return false;
  for (uint32_t obj : phase_objects_[thread]) {
    ObjectState& o = objects_[obj];
    if (o.live && o.phase_owner == thread) free(thread, obj, kFlagPhaseFree);
  }
  phase_objects_[thread].clear();
  append(thread, make_event(Op::kPhaseEnd, kNoObject, 0));
  return true;
}

bool TraceBuilder::thread_exit(uint32_t thread) {
  if (!check_thread(thread)) return false;
  append(thread, make_event(Op::kThreadExit, kNoObject, 0));
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
