// `valgrind --trace-malloc=yes` logs: `--PID-- malloc(16) = 0x4A5B040`, `--PID-- free(0x...)`,
// calloc, realloc, memalign and the mangled C++ operator new/delete symbols. Import only.
// Layer: workloads.
#pragma once

#include <string>

#include "workloads/importer.h"
#include "workloads/trace.h"

namespace allocmark {

// Each PID becomes one trace thread with its own address space (valgrind serialises a
// process's threads and does not name them). operator new sets kFlagCxx, sized delete
// (`_ZdlPvm`...) kFlagSizedFree; valloc is a 4096-aligned allocation. `==PID==` lines and other
// valgrind messages are skipped (skipped_lines). Repairs (counted in *stats with the line of
// the call, importer.h): `free(0x0)` and frees of pointers never seen are skipped, a realloc of
// a pointer never seen becomes realloc(NULL), failed allocations (`= 0`) are skipped, a live
// pointer returned again ends its old block. An unknown allocation function, a
// non-power-of-two alignment or anything malformed: false with "PATH:LINE: expected ...".
bool import_valgrind(const std::string& path, Trace* trace, ImportStats* stats, std::string* error);

}  // namespace allocmark
