// The allocators allocmark knows by name, how each is run, whether it is available here, and the
// checks `run` makes on allocator flags before any cell. Layer: harness (parent side). The parent
// never loads an allocator: it only names files, reads their ELF headers and parses option text.
#pragma once

#include <string>
#include <vector>

namespace allocmark {

struct AllocatorInfo {
  std::string name;
  std::string kind;     // "native" (templated replay in the worker), "preload", "plugin"
  std::string library;  // shared object to preload or dlopen; empty for glibc and natives
  std::string description;
  bool available = true;
  std::string why_unavailable;
  // The name the worker is given (--allocator), when it differs from `name`: the A/A copy of a
  // native baseline ("pool-aa") runs the worker's "pool". Empty: `name`.
  std::string worker_name;
  // NAME=VALUE set in this allocator's workers and programs only (--alloc-env, --sweep).
  std::vector<std::string> env;
  // A --sweep variant: the allocator it varies, the variable swept and this variant's value.
  std::string sweep_base, sweep_key, sweep_value;
  bool aa_copy = false;  // the baseline run a second time (the A/A noise floor)
};

const std::vector<AllocatorInfo>& builtin_allocators();

// `spec` is a built-in name, NAME=/path/lib.so (any malloc-replacement library) or NAME=BUILTIN
// (a built-in under another name, e.g. a variant with its own --alloc-env). NAME must be a valid
// allocator name and a library must pass check_shared_object with malloc required. False with
// *error, one line starting "--allocators: ", when neither.
bool resolve_allocator(const std::string& spec, AllocatorInfo* out, std::string* error);

// The default set of `allocmark run`: every available built-in allocator.
std::vector<std::string> default_allocators();

// Names given with NAME= become result fields, CSV cells and the NAME of `--alloc-option
// NAME:key=value`, so they are kept to letters, digits, '-', '_' and '.' (as plugin names are).
bool valid_allocator_name(const std::string& name);

// Whether the worker could load `path`: an ELF file of this program's class, byte order and
// machine, of type ET_DYN and not a position-independent executable. With `need_malloc`, it must
// also define malloc in its dynamic symbol table: the dynamic loader skips an LD_PRELOAD entry it
// cannot use with a warning and goes on, so a bad library would silently measure glibc. Files
// without section headers pass the two section-based checks (PIE, malloc) unchecked. False with
// *error: what is wrong and what was expected, without the path (the caller's line names the
// flag, which holds it). Reads the file; loads nothing.
// Thread-safe.
bool check_shared_object(const std::string& path, bool need_malloc, std::string* error);

// Which options `--alloc-option` may give to `a`: "table" (native bump, arena, pool: checked
// here against their options tables), "plugin" (only the plugin's create() can tell), "none", or
// for the built-in malloc libraries, which read their table from the environment only, the
// variables' pattern ("ALLOCMARK_POOL_<KEY>"): the worker never passes them --options.
std::string alloc_option_support(const AllocatorInfo& a);

// One `key=value` for an allocator whose support is "table", parsed exactly as the worker will
// parse it (allocators/options.h). False with *error ("pool: unknown option 'x' (known: ...)").
bool check_allocator_option(const AllocatorInfo& a, const std::string& key_value,
                            std::string* error);

// The ALLOCMARK_<NAME>_<KEY> variables the worker (native bump, arena, pool) or a built-in malloc
// library (bump-malloc, ...; with ALLOCMARK_TRACK set, also ALLOCMARK_TRACK_<KEY>) will read for
// `a`. A bad one makes every native cell `error` and is silently ignored by the malloc
// libraries, so it is refused up front. False with *error naming the variable. Reads environ.
bool check_allocator_environment(const AllocatorInfo& a, std::string* error);

}  // namespace allocmark
