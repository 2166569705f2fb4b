// glibc mtrace() logs (MALLOC_TRACE): `@ CALLER + PTR SIZE`, `- PTR`, `< OLD` / `> NEW SIZE`
// realloc pairs, `! OLD SIZE` failed reallocs, `= Start` / `= End`. Import only. Layer: workloads.
#pragma once

#include <string>

#include "workloads/importer.h"
#include "workloads/trace.h"

namespace allocmark {

// One thread (the log has no thread ids). calloc, memalign and realloc(NULL) are all logged as
// `+`, so they import as malloc. Repairs (counted in *stats with their first line, importer.h):
// frees of pointers never seen (allocated before mtrace()) and `- (nil)` are skipped, a realloc
// of a pointer never seen becomes realloc(NULL), failed allocations `+ (nil)` and failed
// reallocs `!` are skipped, a live pointer returned again ends its old block. A `<` not
// followed by its `>`, or anything malformed: false with "PATH:LINE: expected ..., got '...'".
bool import_mtrace(const std::string& path, Trace* trace, ImportStats* stats, std::string* error);

}  // namespace allocmark
