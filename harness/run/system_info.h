// Facts about the machine and build for meta.json: what a reader needs to judge and reproduce.
// Layer: harness (parent side).
#pragma once

#include <nlohmann/json.hpp>

namespace allocmark {

nlohmann::json machine_info();  // hostname, cpu_model, cores, governor, thp, aslr, kernel, memory
nlohmann::json build_info();    // compiler, flags, build type, allocmark version, git revision

}  // namespace allocmark
