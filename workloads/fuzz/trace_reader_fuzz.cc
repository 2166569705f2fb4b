// libFuzzer target for the trace file reader: read_trace must accept or refuse any bytes
// without crashing, hanging or allocating by an untrusted count; what it accepts must pass
// check_trace and write back. Layer: workloads fuzzing only (built by workloads/fuzz/run.sh).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "workloads/fuzz/fuzz_input.h"
#include "workloads/trace_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  allocmark::fuzz::MemFile in(data, size);
  allocmark::Trace trace;
  allocmark::TraceError error;
  if (!allocmark::read_trace(in.path(), &trace, &error)) return 0;
  allocmark::TraceSummary summary;
  if (!allocmark::check_trace(trace, &summary, &error)) {
    std::fprintf(stderr, "read_trace accepted what check_trace refuses: %s\n",
                 error.message().c_str());
    std::abort();
  }
  return 0;
}
