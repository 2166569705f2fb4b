// Importers of foreign trace formats into the trace model. One file per format under
// workloads/importers/. Layer: workloads. Bad input: false plus one line naming file and line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "workloads/trace.h"

namespace allocmark {

// Known quirks of real recordings that an importer survives but counts (e.g. a free of a
// pointer the recording never saw allocated). Reported by `trace convert` and kept in metadata.
struct ImportStats {
  uint64_t lines = 0;
  uint64_t unknown_frees = 0;
  uint64_t null_frees = 0;
  uint64_t skipped_lines = 0;
  std::string notes;  // free text for anything else worth telling
};

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
