// Finding a Python with matplotlib, numpy and scipy, and running the plot/ tools with it.
// Layer: harness. The plot tools read result files only; they never link our C++.
#pragma once

#include <string>
#include <vector>

namespace allocmark {

// $ALLOCMARK_PYTHON if set, else the first of python3 on PATH, /usr/bin/python3,
// /usr/local/bin/python3 that imports the three modules. Empty (with *error) if none does.
std::string find_plot_python(std::string* error);

// Runs plot/<script> with args; returns its exit status (2 if no interpreter was found).
int run_plot_tool(const std::string& script, const std::vector<std::string>& args);

}  // namespace allocmark
