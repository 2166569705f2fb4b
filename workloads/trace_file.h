// Reading and writing trace files (workloads/FORMAT.md: v2 written, v1 read), with validation.
// Layer: workloads. Readers never trust the file: every count and offset is checked first.
#pragma once

#include <cstdint>
#include <string>

#include "workloads/trace.h"

namespace allocmark {

inline constexpr uint32_t kTraceFormatVersion = 2;  // written; 1 is still read
inline constexpr char kTraceMagic[8] = {'A', 'M', 'K', 'T', 'R', 'A', 'C', 'E'};

// Where and why a trace was refused: one line for the user, e.g.
// "trace.amt: offset 64: payload checksum mismatch".
struct TraceError {
  std::string path;
  uint64_t offset = 0;  // byte offset in the file (or in the decoded payload, see `where`)
  std::string where;    // "file", "payload", or "thread 3 event 17"
  std::string reason;
  std::string message() const;
};

// Writes `trace` to `path` in its recorded order (format v2, zstd level `level`) through
// TraceWriter. On failure returns false, fills *error and leaves nothing at `path`.
bool write_trace(const Trace& trace, const std::string& path, TraceError* error, int level = 19);

// Decodes a trace and checks its structure (header, sizes, checksum, every varint, op, object id
// and dependency index) but not its semantics; free sizes are left 0. For benchmarks of the
// decoder; everything else wants read_trace.
bool decode_trace(const std::string& path, Trace* trace, TraceError* error);

// Reads and fully validates a trace: structure, then semantics (objects allocated once, freed
// only while live, dependencies that point backwards and can be met). Free events get their size
// filled from the object table. Returns false with *error on the first problem.
bool read_trace(const std::string& path, Trace* trace, TraceError* error,
                TraceSummary* summary = nullptr);

// Walks `trace` in its recorded order (schedule, or a dependency-respecting round robin when it
// has none), checking semantics and computing the summary. Used by read_trace and by writers.
bool check_trace(Trace& trace, TraceSummary* summary, TraceError* error);

}  // namespace allocmark
