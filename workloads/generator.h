// Workload generators: the classic allocator benchmarks as deterministic trace generators.
// Layer: workloads. One file per pattern under workloads/generators/, listed in generators.cc.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/size_text.h"  // parse_size_text: sizes in generator parameters
#include "workloads/trace.h"
#include "workloads/trace_stream.h"

namespace allocmark {

struct GeneratorParam {
  std::string name;
  std::string default_value;
  std::string help;
};

// Parameter values for one generation. Unknown names are refused by generate().
struct GeneratorArgs {
  std::map<std::string, std::string> values;  // overrides of the defaults, name -> text
  uint32_t threads = 1;
  uint64_t seed = 42;
};

// Typed view of the parameters inside a generator; getters return the default when unset and
// record the first parse error (e.g. "param 'size': expected an integer, got 'abc'").
class ParamReader {
 public:
  ParamReader(const std::vector<GeneratorParam>& params, const GeneratorArgs& args)
      : params_(params), args_(args) {}
  uint64_t u64(std::string_view name);  // accepts K/M/G suffixes (powers of 1024)
  double real(std::string_view name);
  const std::string& error() const noexcept { return error_; }

 private:
  std::string text(std::string_view name);
  const std::vector<GeneratorParam>& params_;
  const GeneratorArgs& args_;
  std::string error_;
};

// Where a generator's events go: into a trace in memory, or into a file as they come (any
// length; see workloads/trace_stream.h). Exactly one is set.
struct TraceOutput {
  Trace* trace = nullptr;
  TraceWriter* writer = nullptr;
  // Filled when the generator finishes: what TraceChecker would report, known without a pass.
  uint64_t events = 0;
  uint32_t threads = 0;
  uint64_t peak_live_bytes = 0;
};

struct Generator {
  std::string name;
  std::string description;  // one line: the pattern
  std::string follows;      // the benchmark it follows (mimalloc-bench name, paper, ...)
  std::vector<GeneratorParam> params;
  bool multi_threaded = false;  // whether `threads` > 1 means anything
  // Emits the trace into *out; returns false with *error on bad parameters.
  bool (*generate)(const GeneratorArgs& args, ParamReader& params, TraceOutput* out,
                   std::string* error) = nullptr;
};

const std::vector<Generator>& generators();
const Generator* find_generator(std::string_view name);

// Checks parameter names against the generator, runs it, and records name, parameters, threads
// and seed in the trace's metadata. Deterministic: same arguments, same trace.
bool generate_trace(const Generator& gen, const GeneratorArgs& args, Trace* trace,
                    std::string* error);
// The same, written to `path` as the events come (zstd `level`): memory bounded by the live
// objects, so any number of events. On failure nothing is left at `path`.
// *out (optional) receives the event count, threads and peak live bytes.
bool generate_trace_file(const Generator& gen, const GeneratorArgs& args, const std::string& path,
                         int level, std::string* error, TraceOutput* out = nullptr);

}  // namespace allocmark
