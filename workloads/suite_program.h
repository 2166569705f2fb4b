// One [[program]] table of a suite file -> ProgramSpec, with every key checked. Internal to the
// suite loader (workloads/suite.cc). Layer: workloads.
#pragma once

#include <toml++/toml.h>

#include <string>

#include "workloads/program_spec.h"

namespace allocmark {

// False with *error "FILE:LINE:COLUMN: what was expected" on the first bad key or value.
bool read_program_table(const toml::table& table, const std::string& path, ProgramSpec* out,
                        std::string* error);

}  // namespace allocmark
