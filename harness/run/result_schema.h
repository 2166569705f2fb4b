// The result-line schema: results/result_fields.json, compiled in. The one C++ reader of that
// list; the worker's record, the parent's loader and the tests take field names and types from
// here. Layer: harness (both sides). Thread-safe (parsed once, then read-only); never throws.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace allocmark {

// {"schema_version": N, "fields": [{name, type, source, required, meaning}, ...]}
const nlohmann::json& result_fields();
int result_schema_version();

// What is wrong with one result line: a missing required field, or a known field of the wrong
// type ("field 'threads' must be int, got string"); empty when it is fine. Unknown fields are
// accepted (a newer worker may add some; readers ignore them).
std::string check_result_line(const nlohmann::json& line);

// The time a line's cell is ranked by, and its field: ns_per_op (time per replayed event) for a
// replay, wall_ns (the whole program) for a program cell (kind "program"). The one place that
// choice is made in C++ (plot/summary.py makes it for the plots). NaN when the line has none.
const char* time_field(const nlohmann::json& line);
double line_time(const nlohmann::json& line);

}  // namespace allocmark
