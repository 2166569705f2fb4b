// Trace files of any length: a writer that encodes events as they come (format v2, runs of one
// thread's events in recorded order; workloads/FORMAT.md) and a reader that decodes them in
// chunks, so generation, conversion, validation and replay hold a bounded number of events.
// Layer: workloads. Memory: the writer ~1 MiB of buffers plus zstd's window; the reader its
// chunk, a 4 MiB decompressed window and zstd's; a v1 file is decoded whole (they are small).
#pragma once

#include <zstd.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/mmap_allocator.h"
#include "workloads/trace.h"
#include "workloads/trace_codec.h"
#include "workloads/trace_file.h"

namespace allocmark {

// Consecutive events in recorded order: `runs` say which thread each stretch belongs to.
struct EventChunk {
  MmapVector<Event> events;
  MmapVector<ScheduleRun> runs;
};

// What a trace file's header says, checked against the file.
struct TraceFileInfo {
  uint32_t version = 0;
  uint32_t threads = 0;
  uint32_t objects = 0;
  uint64_t events = 0;
  uint64_t file_bytes = 0;
  bool recorded_order = false;  // v2 always; v1 when it carries a schedule
  std::string metadata_json;
};

class TraceWriter {
 public:
  TraceWriter() = default;
  ~TraceWriter();  // an unfinished file is removed
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  // Starts `path` (written as path.tmp, renamed by finish). zstd `level` (3 for generated
  // traces, 19 for `trace convert`), long-distance matching on, one compression thread beside
  // the caller where libzstd has them.
  bool open(const std::string& path, const std::string& metadata_json, int level,
            TraceError* error);
  // At least this many threads / objects in the header (threads without events count).
  void declare(uint32_t threads, uint32_t objects);
  // The next event in recorded order. An I/O failure is kept and reported by finish().
  // Inline: called once per generated or converted event (~25 instructions for churn).
  void add(uint32_t thread, const Event& e) {
    if (thread != run_thread_ || run_count_ == kMaxRunEvents) [[unlikely]]
      flush_run();
    if (thread >= states_.size() || run_len_ + codec::kMaxEventBytes > run_bytes_.size())
        [[unlikely]]
      grow(thread);
    run_thread_ = thread;
    ++run_count_;
    run_len_ = static_cast<size_t>(
        codec::encode_event(e, states_[thread], run_bytes_.data() + run_len_) - run_bytes_.data());
    if (codec::has_object(e.op) && e.obj >= objects_) objects_ = e.obj + 1;
    ++events_;
  }
  uint64_t events() const { return events_; }
  // Writes the header, syncs and renames into place. `final_metadata`, when given, replaces the
  // metadata passed to open(), which must have reserved room for it (padded with spaces, which
  // JSON allows): for writers that learn their provenance only at the end (`record`). Costs one
  // more read of the compressed payload, which the checksum covers after the metadata.
  bool finish(TraceError* error, std::string_view final_metadata = {});

 private:
  static constexpr uint64_t kMaxRunEvents = 1 << 16;  // a long run is split: short headers
  void flush_run();
  void grow(uint32_t thread);
  bool compress(ZSTD_EndDirective end);
  void abandon();

  std::string path_, tmp_;
  int fd_ = -1;
  ZSTD_CCtx* cctx_ = nullptr;
  void* xxh_ = nullptr;  // XXH64_state_t
  std::string raw_, out_;
  MmapVector<uint8_t> run_bytes_;  // the current run's events, encoded
  size_t run_len_ = 0;
  std::vector<codec::ThreadState> states_;
  uint32_t run_thread_ = 0;
  uint64_t run_count_ = 0;
  uint64_t events_ = 0, raw_bytes_ = 0, zstd_bytes_ = 0;
  uint32_t threads_ = 0, objects_ = 0;
  uint32_t metadata_bytes_ = 0;
  int error_ = 0;  // errno of the first failed write
};

class TraceReader {
 public:
  TraceReader() = default;
  ~TraceReader();
  TraceReader(const TraceReader&) = delete;
  TraceReader& operator=(const TraceReader&) = delete;

  // Checks the header and the checksum (one read of the file); false with *error.
  bool open(const std::string& path, TraceError* error);
  const TraceFileInfo& info() const { return info_; }
  // The next at most max_events events in recorded order (chunk replaced). True with an empty
  // chunk at the end; false with *error on a malformed payload. Checks structure only (fields,
  // ids, dependencies that point backwards); TraceChecker checks meaning.
  bool next(EventChunk* chunk, size_t max_events, TraceError* error);

 private:
  bool fail(TraceError* error, std::string where, std::string why);
  bool refill(TraceError* error);
  bool next_v1(EventChunk* chunk, size_t max_events);
  bool read_run_header(TraceError* error);
  bool finish_payload(TraceError* error);

  std::string path_;
  TraceFileInfo info_;
  int fd_ = -1;
  // v1: the whole trace and its order, served from memory.
  Trace v1_;
  std::vector<ScheduleRun> v1_order_;
  size_t v1_run_ = 0;
  uint64_t v1_in_run_ = 0;
  // v2: compressed input, decompressed window [raw_pos_, raw_end_), where raw_[0] sits in the
  // decompressed payload (raw_base_).
  ZSTD_DCtx* dctx_ = nullptr;
  MmapVector<uint8_t> in_, raw_;
  size_t in_pos_ = 0, in_end_ = 0, raw_pos_ = 0, raw_end_ = 0;
  uint64_t file_pos_ = 0, file_end_ = 0, raw_base_ = 0, raw_total_ = 0;
  bool frame_done_ = false;
  std::vector<codec::ThreadState> states_;
  MmapVector<uint64_t> done_;  // events decoded per thread
  uint32_t run_thread_ = 0;
  uint64_t run_left_ = 0, events_read_ = 0;
};

// Reads `path` chunk by chunk and checks it whole (TraceChecker): structure, meaning and the
// summary, in memory bounded by the live objects (`trace info`, the parent's validation).
// With `copy`, also writes every checked event to it (declaring the header's counts), so a
// trace is converted in one pass.
bool check_trace_file(const std::string& path, TraceSummary* summary, TraceError* error,
                      TraceFileInfo* info = nullptr, TraceWriter* copy = nullptr);

}  // namespace allocmark
