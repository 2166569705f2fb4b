// Where allocmark's own pieces are (worker, drop-in libraries, recorder, plot tools, suites),
// found from the running executable, so a build tree and an installed prefix both work and no
// absolute build or source path is compiled in. Layer: harness (run).
//
// Each lookup tries, in order: the environment override, the installed layout under the
// executable's prefix (bin/../lib/allocmark, bin/../share/allocmark), then the build tree
// (paths relative to the executable's directory, fixed at configure time). Thread-safe; the
// executable's directory is read once.
#pragma once

#include <string>

namespace allocmark {

std::string executable_dir();                // directory of /proc/self/exe
std::string worker_path();                   // allocmark-worker beside the executable
std::string shim_library(const char* name);  // libamk_<name>.so; "" when not built
std::string witness_library();               // libamk_witness.so ("" when not built)
std::string record_library();                // libamk_record.so ($ALLOCMARK_RECORD_LIB)
std::string plot_dir();                      // the Python plot tools ($ALLOCMARK_PLOT_DIR)
std::string builtin_suites_dir();            // the built-in suites ($ALLOCMARK_SUITES_DIR)

}  // namespace allocmark
