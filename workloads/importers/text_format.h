// The text form of our own trace model: one line per event in global schedule order, readable
// and writable by hand, and an exact round trip of a Trace (see workloads/README.md, "Text
// form"). Layer: workloads.
#pragma once

#include <cstdio>
#include <string>

#include "workloads/importer.h"
#include "workloads/trace.h"

namespace allocmark {

// Reads the text form. Every event is checked as it is read (objects live when used, ids used
// once, dependencies pointing at earlier events, nothing after a thread's exit), so a bad line
// is refused with "PATH:LINE: expected ..., got '...'". Not thread-safe.
bool import_text(const std::string& path, Trace* trace, ImportStats* stats, std::string* error);

// Writes `trace` in the text form. Dependencies are written only when they differ from what the
// builder would compute (header `deps explicit`); reading the output back gives the same
// threads, object ids, events (all fields but `reserved`), schedule and metadata. False with
// *error on a write error or a trace whose order cannot be walked.
bool export_text(const Trace& trace, std::FILE* out, std::string* error);

}  // namespace allocmark
