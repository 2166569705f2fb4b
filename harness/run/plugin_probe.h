// `--plugin [NAME=]/path/plugin.so` in the parent: checks the file and asks a worker what it is
// (its name, whether it loads, whether it accepts its options), since the parent never loads an
// allocator itself. Layer: harness (parent side).
#pragma once

#include <string>

#include "harness/run/allocator_registry.h"

namespace allocmark {

// Fills *out with kind "plugin", library = the absolute path, and a name: NAME when the spec
// gives one, else the name the plugin reports. The plugin is loaded (never created) in a
// short-lived `worker --describe 1` process, which applies every check the cells would: the
// entry point, its ABI version, table size, name and required members.
// False with *error, one line starting "--plugin SPEC: ", for anything that would make every
// cell of this plugin fail: an empty part or bad NAME, a missing or unreadable file, a file that
// is no shared object for this machine (check_shared_object), a load the worker refuses, or a
// worker that crashes or hangs while loading it. The run should then exit 2.
// Thread-safe (no shared state); blocks while the probe runs (it has a 30 s timeout).
bool resolve_plugin(const std::string& spec, const std::string& worker, AllocatorInfo* out,
                    std::string* error);

// Only the plugin can judge its own option text, in its create(). This runs a worker that loads
// `plugin`, calls create(options) and replays a two-event trace (one malloc, one free) written to
// a temporary directory. False with *error (the plugin's own one-line reason) when the worker
// reports status `error`, which for a plugin that resolve_plugin accepted means create() refused
// the options. Any other outcome (ok, oom, a crash, a timeout after 10 s) passes: those are what
// the cells measure and record. Also passes, unchecked, when no temporary directory can be made
// ($TMPDIR or /tmp): the cells then record a refusal. Blocks for the probe (milliseconds).
bool probe_plugin_options(const AllocatorInfo& plugin, const std::string& options,
                          const std::string& worker, std::string* error);

}  // namespace allocmark
