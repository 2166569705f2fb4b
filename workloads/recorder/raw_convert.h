// From the recording library's raw files (raw_format.h) to traces: merge the per-thread record
// blocks by sequence number, map pointers to dense object ids, feed a TraceBuilder.
// Layer: workloads/recorder. Not thread-safe; functions report failure through `error`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "workloads/recorder/raw_format.h"
#include "workloads/trace.h"
#include "workloads/trace_stream.h"

namespace allocmark {

// One recorded process: the raw file of its last image. An exec() keeps the pid but replaces
// the image (and its heap); earlier images are listed in `replaced` and not converted.
struct RawProcess {
  uint32_t pid = 0;
  uint32_t ppid = 0;
  bool forked = false;  // a fork() child of a recorded process (it inherited a heap)
  std::string path;
  std::vector<std::string> replaced;
};

// Raw files in `dir` grouped by pid, sorted by pid. False (with *error) if a file in `dir`
// that looks like a raw file cannot be read or has no valid header.
bool list_raw_processes(const std::string& dir, std::vector<RawProcess>* out, std::string* error);

// What a conversion saw besides the events. Survivable quirks of a real recording are counted.
struct RecordStats {
  uint64_t records = 0;           // raw records converted
  uint64_t duplicates = 0;        // records written twice (the exit snapshot): dropped
  uint64_t unknown_frees = 0;     // frees of pointers never seen allocated: skipped
  uint64_t unknown_reallocs = 0;  // reallocs of such pointers: became realloc(NULL)
  uint64_t implicit_frees = 0;    // an allocation returned a still-live pointer: old one freed
  uint64_t truncated_bytes = 0;   // a partial block at the end (the process was killed)
  uint64_t peak_live_bytes = 0;   // computed from the records, independently of check_trace
  uint64_t final_live_bytes = 0;
  uint32_t threads = 0;  // raw thread serials seen (announced ones without records included)
  // The trace's own figures, from TraceBuilder along the recorded order (what check_trace and
  // `trace info` compute on the file): the summary line's.
  uint64_t events = 0;
  uint32_t trace_threads = 0;
  uint64_t trace_peak_live_bytes = 0;
};

// Converts one raw file while the recording library may still be appending to it, so that the
// conversion runs beside the program instead of after it (raw_convert.cc says which records can
// be converted early). Each advance() indexes the blocks written since the last call and converts
// every record whose place in the global order is certain. One thread drives it.
//
// Where the events go: with `open_writer`, to the TraceWriter it returns (the caller's, open),
// event by event as they are converted, so memory holds only the live objects and the file is
// written while the program runs. It is called once, when the file's header has arrived (the
// metadata may name the process); null with *error refuses the file. Without it the trace is
// kept in memory for finish() (tests, small files).
class RawStreamConverter {
 public:
  using OpenWriter = std::function<TraceWriter*(const raw::FileHeader&, std::string* error)>;
  explicit RawStreamConverter(std::string path, OpenWriter open_writer = nullptr);
  ~RawStreamConverter();
  RawStreamConverter(const RawStreamConverter&) = delete;
  RawStreamConverter& operator=(const RawStreamConverter&) = delete;

  // `final`: no process writes the file any more: every remaining record is converted, and a
  // partial block at the end is counted in truncated_bytes. False with a one-line *error naming
  // the file and the byte offset or record; the failure is sticky. A write the recording library
  // could not complete (write_errno()) is such a failure: the records after it are missing.
  bool advance(bool final, std::string* error);
  // After a successful advance(true): what the conversion saw, and the trace when it is kept in
  // memory (`trace` may be null when streaming). A writer is told the thread and object counts;
  // its finish() is the caller's.
  void finish(Trace* trace, RecordStats* stats);
  uint64_t records() const;  // converted so far
  // The header's record of a failed write in the recording library (an errno), 0 if none.
  uint32_t write_errno() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Converts one raw file. On failure returns false with a one-line *error naming the file and
// the byte offset or record.
bool convert_raw_file(const std::string& path, Trace* trace, RecordStats* stats,
                      std::string* error);

}  // namespace allocmark
