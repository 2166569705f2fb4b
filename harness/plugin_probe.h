// `--plugin [NAME=]/path/plugin.so` in the parent: checks the file and learns the plugin's name
// from a worker, since the parent never loads an allocator itself. Layer: harness (parent side).
#pragma once

#include <string>

#include "harness/allocator_registry.h"

namespace allocmark {

// Fills *out with kind "plugin", library = the path, and a name: NAME when the spec gives one,
// else the name the plugin reports (asked of a short-lived `worker --describe 1` process), else
// the file's stem without "lib" (when the plugin cannot be loaded: its cells then record the
// reason as status `error`). False with *error, one line naming the flag, only for bad input:
// an empty part, or a file that is missing or unreadable (the run should exit 2).
// Thread-safe (no shared state); blocks while the probe runs (it has a 30 s timeout).
bool resolve_plugin(const std::string& spec, const std::string& worker, AllocatorInfo* out,
                    std::string* error);

}  // namespace allocmark
