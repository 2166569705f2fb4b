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

const Importer* find_importer(std::string_view name) {
  for (const Importer& i : importers())
    if (i.name == name) return &i;
  return nullptr;
}

}  // namespace allocmark
