// Streamed replay: slot mapping and chunk decoding. Layer: harness/worker.
#include "harness/worker/stream_replay.h"

#include "workloads/trace_order.h"

namespace allocmark {

bool SlotMapper::begin(uint32_t t, Event& e, std::string* why) {
  if (live_.find(e.obj))
    return *why = "object " + std::to_string(e.obj) + " is already live", false;
  uint32_t slot;
  if (t < free_slots_.size() && !free_slots_[t].empty()) {
    slot = free_slots_[t].back();
    free_slots_[t].pop_back();
  } else {
    slot = next_slot_++;
  }
  live_.insert(e.obj) = {slot, e.size};
  e.obj = slot;
  live_bytes_ += e.size;
  peak_live_bytes_ = std::max(peak_live_bytes_, live_bytes_);
  return true;
}

bool SlotMapper::map(uint32_t t, Event& e, std::string* why) {
  switch (e.op) {
    case Op::kMalloc:
    case Op::kCalloc:
    case Op::kAlignedAlloc:
      return begin(t, e, why);
    case Op::kRealloc:
      if (e.flags & kFlagFromNull) return begin(t, e, why);
      [[fallthrough]];
    case Op::kAccess:
    case Op::kFree: {
      Live* l = live_.find(e.obj);
      if (!l) return *why = "object " + std::to_string(e.obj) + " is not live", false;
      const uint32_t id = e.obj;
      e.obj = l->slot;
      if (e.op == Op::kRealloc) {
        live_bytes_ += e.size - l->size;
        peak_live_bytes_ = std::max(peak_live_bytes_, live_bytes_);
        l->size = e.size;
      } else if (e.op == Op::kFree) {
        e.size = l->size;
        live_bytes_ -= l->size;
        if (t >= free_slots_.size()) free_slots_.resize(t + 1);
        free_slots_[t].push_back(l->slot);
        live_.erase(id);
      }
      return true;
    }
    case Op::kPhaseEnd:
    case Op::kThreadExit:
      return true;
  }
  return true;
}

bool SlotMapper::map(EventChunk& chunk, std::string* why) {
  Event* e = chunk.events.data();
  for (const ScheduleRun& run : chunk.runs)
    for (uint32_t k = 0; k < run.count; ++k, ++e)
      if (!map(run.thread, *e, why)) return false;
  return true;
}

bool map_trace_to_slots(Trace& trace, std::string* why) {
  SlotMapper mapper(1024);
  bool ok = true;
  std::string order_error;
  const bool walked = walk_in_order(
      trace,
      [&](uint32_t t, uint32_t i) { return ok = mapper.map(t, trace.threads[t].events[i], why); },
      &order_error);
  if (!ok) return false;
  if (!walked) return *why = order_error, false;
  trace.object_count = mapper.slots();
  return true;
}

bool StreamedTrace::open(const std::string& path, uint64_t live_objects, TraceError* error) {
  if (!reader_.open(path, error)) return false;
  shell_.threads.resize(reader_.info().threads);
  shell_.object_count = static_cast<uint32_t>(std::min<uint64_t>(live_objects, UINT32_MAX));
  shell_.metadata_json = reader_.info().metadata_json;
  mapper_ = SlotMapper(live_objects);
  return true;
}

bool StreamedTrace::advance() {
  TraceError te;
  if (!reader_.next(&chunk_, kChunkEvents, &te)) {
    error_ = te.message();
    chunk_.events.clear();
    return false;
  }
  std::string why;
  if (!mapper_.map(chunk_, &why)) {
    error_ = "trace changed since it was checked: " + why;  // the parent checked this file
    chunk_.events.clear();
    return false;
  }
  return true;
}

bool should_stream(const std::string& mode, const TraceFileInfo& info, bool serial,
                   uint64_t limit_bytes) {
  if (mode == "never") return false;
  if (!serial && info.threads > 1) return false;
  if (mode == "always") return true;
  const uint64_t decoded = info.events * sizeof(Event) + uint64_t{info.objects} * 16;
  return decoded > limit_bytes;
}

}  // namespace allocmark
