// The registry of importers: the values of `trace convert --from`. Layer: workloads.
// Adding a format: one file pair under importers/, one row here, a test beside it.
#include "workloads/importer.h"
#include "workloads/importers/android_format.h"
#include "workloads/importers/malloclab_format.h"
#include "workloads/importers/mtrace_format.h"
#include "workloads/importers/text_format.h"
#include "workloads/importers/valgrind_format.h"

namespace allocmark {

const std::vector<Importer>& importers() {
  static const std::vector<Importer> kImporters = {
      {"android", "Android memory_replay text trace (`TID: op PTR ...`), plain or one-file .zip",
       &import_android},
      {"text", "allocmark text form: one line per event, e.g. `T3 malloc #17 48` (README.md)",
       &import_text},
      {"malloclab", "CS:APP malloc-lab .rep trace (`a id size`, `r id size`, `f id`)",
       &import_malloclab},
      {"mtrace", "glibc mtrace() log (MALLOC_TRACE): `@ caller + 0xPTR 0xSIZE`, `- 0xPTR`, ...",
       &import_mtrace},
      {"valgrind", "valgrind --trace-malloc=yes log: `--PID-- malloc(16) = 0x4A5B040`, ...",
       &import_valgrind},
  };
  return kImporters;
}

namespace {

struct RepairText {
  const char* name;  // metadata key
  const char* what;  // the warning, after "PATH:LINE: warning: "
};

// Indexed by Repair. The warnings say what the importer did, not only what it saw, because the
// replayed trace differs from the recording exactly there.
constexpr RepairText kRepairTexts[kRepairKinds] = {
    {"live_pointer_reused",
     "allocation returned a pointer that was still live (the recording lost its free): the old "
     "block was freed first"},
    {"unknown_free",
     "free of a pointer never allocated (allocated before recording began?): skipped"},
    {"unknown_realloc",
     "realloc of a pointer never allocated (allocated before recording began?): imported as "
     "realloc(NULL)"},
    {"null_free", "free(NULL): skipped"},
    {"failed_allocation",
     "allocation or realloc returned NULL (failed): skipped, a failed realloc's block stays live"},
};

}  // namespace

const char* repair_name(Repair kind) { return kRepairTexts[static_cast<int>(kind)].name; }

std::vector<std::string> repair_warnings(const ImportStats& stats) {
  std::vector<std::string> lines;
  for (int k = 0; k < kRepairKinds; ++k) {
    const RepairCount& r = stats.repairs[k];
    if (r.count == 0) continue;
    lines.push_back(stats.source + ":" + std::to_string(r.first_line) +
                    ": warning: " + kRepairTexts[k].what + " (" + std::to_string(r.count) +
                    (r.count == 1 ? " time, here)" : " times, first here)"));
  }
  return lines;
}

std::string repairs_json(const ImportStats& stats) {
  std::string out = "{";
  for (int k = 0; k < kRepairKinds; ++k) {
    const RepairCount& r = stats.repairs[k];
    if (r.count == 0) continue;
    if (out.size() > 1) out += ',';
    out += "\"" + std::string(kRepairTexts[k].name) + "\":{\"count\":" + std::to_string(r.count) +
           ",\"first_line\":" + std::to_string(r.first_line) + "}";
  }
  return out + "}";
}

const Importer* find_importer(std::string_view name) {
  for (const Importer& i : importers())
    if (i.name == name) return &i;
  return nullptr;
}

}  // namespace allocmark
