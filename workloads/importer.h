// Importers of foreign trace formats into the trace model. One file per format under
// workloads/importers/. Layer: workloads. Bad input: false plus one line naming file and line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "workloads/trace.h"

namespace allocmark {

// What an importer does where a recording contradicts itself (it lost a free, or began after
// some blocks were allocated) or records a call that is no event, so the trace it builds stays
// replayable. The address-keyed importers (android, mtrace, valgrind) make all of them,
// malloclab only kNullFree. Values index ImportStats::repairs; kRepairKinds follows the last.
enum class Repair : uint8_t {
  kLivePointerReused,  // an allocation returned a pointer still live: its old block freed first
  kUnknownFree,        // free of a pointer never seen allocated: skipped
  kUnknownRealloc,     // realloc of a pointer never seen allocated: became realloc(NULL)
  kNullFree,           // free(NULL): no event
  kFailedAllocation,   // an allocation or realloc returned NULL: no event, a realloc's block stays
};
inline constexpr int kRepairKinds = 5;

// The metadata key of a kind ("live_pointer_reused", "unknown_free", ...).
const char* repair_name(Repair kind);

struct RepairCount {
  uint64_t count = 0;
  uint64_t first_line = 0;  // 1-based line of the first one in the input
};

// What an import saw besides events. Filled by the importer; not thread-safe.
struct ImportStats {
  uint64_t lines = 0;
  uint64_t skipped_lines = 0;  // blank lines, comments, a tool's other messages: not events
  std::string source;          // the input as messages name it, e.g. "a.zip:systemui.txt"
  RepairCount repairs[kRepairKinds];

  // The one place every repair is counted. Cost: a compare and two stores, on a repaired line
  // only, so a trace with a million unknown frees pays for counting, never for printing.
  void repair(Repair kind, uint64_t line) {
    RepairCount& r = repairs[static_cast<int>(kind)];
    if (r.count++ == 0) r.first_line = line;
  }
  uint64_t count(Repair kind) const { return repairs[static_cast<int>(kind)].count; }
  uint64_t first_line(Repair kind) const { return repairs[static_cast<int>(kind)].first_line; }
};

// One line per kind that happened, in enum order, naming source, first line and count:
// "in.txt:5: warning: free of a pointer never allocated: skipped (2 times, first here)".
// `trace convert` and `trace info` print them to stderr; an import without repairs gives none.
std::vector<std::string> repair_warnings(const ImportStats& stats);

// The repairs for a trace's metadata: {"unknown_free":{"count":2,"first_line":5},...}, kinds
// that happened only ({} when none).
std::string repairs_json(const ImportStats& stats);

struct Importer {
  std::string name;         // value of --from
  std::string description;  // one line
  // `path` may be a plain file or, where the importer says so, a .zip holding one.
  bool (*import)(const std::string& path, Trace* trace, ImportStats* stats,
                 std::string* error) = nullptr;
};

const std::vector<Importer>& importers();
const Importer* find_importer(std::string_view name);

}  // namespace allocmark
