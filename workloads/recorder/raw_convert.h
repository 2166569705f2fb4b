// From the recording library's raw files (raw_format.h) to traces: merge the per-thread record
// blocks by sequence number, map pointers to dense object ids, feed a TraceBuilder.
// Layer: workloads/recorder. Not thread-safe; functions report failure through `error`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "workloads/recorder/raw_format.h"
#include "workloads/trace.h"

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
  uint32_t threads = 0;
};

// Converts one raw file while the recording library may still be appending to it, so that the
// conversion runs beside the program instead of after it (raw_convert.cc says which records can
// be converted early). Each advance() indexes the blocks written since the last call and converts
// every record whose place in the global order is certain. One thread drives it.
class RawStreamConverter {
 public:
  explicit RawStreamConverter(std::string path);
  ~RawStreamConverter();
  RawStreamConverter(const RawStreamConverter&) = delete;
  RawStreamConverter& operator=(const RawStreamConverter&) = delete;

  // `final`: no process writes the file any more: every remaining record is converted, and a
  // partial block at the end is counted in truncated_bytes. False with a one-line *error naming
  // the file and the byte offset or record; the failure is sticky.
  bool advance(bool final, std::string* error);
  // After a successful advance(true): hands over the trace and what the conversion saw.
  void finish(Trace* trace, RecordStats* stats);
  uint64_t records() const;  // converted so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Converts one raw file. On failure returns false with a one-line *error naming the file and
// the byte offset or record.
bool convert_raw_file(const std::string& path, Trace* trace, RecordStats* stats,
                      std::string* error);

}  // namespace allocmark
