// Android memory_replay traces (AOSP system/extras/memory_replay): `TID: op PTR ...` lines in one
// global order across threads, live blocks keyed by pointer. Import and export. Layer: workloads.
#pragma once

#include <cstdio>
#include <string>

#include "workloads/importer.h"
#include "workloads/trace.h"

namespace allocmark {

// Reads a plain text trace or a .zip holding one. Survivable quirks are counted in *stats:
// `free 0x0` (null_frees), frees of pointers never seen (unknown_frees), allocations that
// returned 0x0 and reallocs of unknown pointers (skipped_lines, explained in notes). Anything
// else malformed: false, *error = "PATH:LINE: expected ..., got '...'". Not thread-safe.
bool import_android(const std::string& path, Trace* trace, ImportStats* stats, std::string* error);

// Writes `trace` as Android lines in its global order. Objects become synthetic pointers
// ((id + 1) * 16), thread i becomes tid i + 1, realloc keeps its pointer. The format has no
// access or phase-end events (a phase's frees are already explicit), and no operator-new flag:
// those are dropped. False with *error on a write error or an inconsistent trace.
bool export_android(const Trace& trace, std::FILE* out, std::string* error);

}  // namespace allocmark
