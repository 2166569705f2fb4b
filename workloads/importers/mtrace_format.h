// glibc mtrace() logs (MALLOC_TRACE): `@ CALLER + PTR SIZE`, `- PTR`, `< OLD` / `> NEW SIZE`
// realloc pairs, `! OLD SIZE` failed reallocs, `= Start` / `= End`. Import only. Layer: workloads.
#pragma once

#include <string>

#include "workloads/importer.h"
#include "workloads/trace.h"

namespace allocmark {

// One thread (the log has no thread ids). calloc, memalign and realloc(NULL) are all logged as
// `+`, so they import as malloc. Counted and skipped: frees of pointers never seen (allocated
// before mtrace(): unknown_frees), `- (nil)` (null_frees), failed allocations `+ (nil)` and
// failed reallocs `!` (skipped_lines). A `<` not followed by its `>`, or anything malformed:
// false with "PATH:LINE: expected ..., got '...'".
bool import_mtrace(const std::string& path, Trace* trace, ImportStats* stats, std::string* error);

}  // namespace allocmark
