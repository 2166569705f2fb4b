// Android memory_replay traces (AOSP system/extras/memory_replay): `TID: op PTR ...` lines in one
// global order across threads, live blocks keyed by pointer. Import and export. Layer: workloads.
#pragma once

#include <cstdio>
#include <string>

#include "workloads/importer.h"
#include "workloads/trace.h"

namespace allocmark {

// Reads a plain text trace or a .zip holding one. Survivable quirks are repairs, counted in
// *stats with their first line (importer.h): `free 0x0`, frees and reallocs of pointers never
// seen, allocations that returned 0x0, and allocations that returned a pointer still live.
// Anything else malformed: false, *error = "PATH:LINE: expected ..., got '...'". Not thread-safe.
bool import_android(const std::string& path, Trace* trace, ImportStats* stats, std::string* error);

// Writes `trace` as Android lines in its global order. Objects become synthetic pointers
// ((id + 1) * 16), thread i becomes tid i + 1, realloc keeps its pointer. The format has no
// access or phase-end events (a phase's frees are already explicit), and no operator-new flag:
// those are dropped. False with *error on a write error or an inconsistent trace.
bool export_android(const Trace& trace, std::FILE* out, std::string* error);

}  // namespace allocmark
