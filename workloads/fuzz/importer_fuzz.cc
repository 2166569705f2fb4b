// libFuzzer target for one importer (chosen at build time by ALLOCMARK_FUZZ_IMPORTER, e.g.
// "android"): any input must be imported or refused with an error, never crash or hang. What
// imports must also pass check_trace, write and read back as a trace file, and survive the text
// and Android exporters and back, and every repair it counted must name a line of the input.
// Layer: workloads fuzzing only (built by workloads/fuzz/run.sh).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "workloads/fuzz/fuzz_input.h"
#include "workloads/importer.h"
#include "workloads/importers/android_format.h"
#include "workloads/importers/text_format.h"
#include "workloads/trace_file.h"

#ifndef ALLOCMARK_FUZZ_IMPORTER
#error "define ALLOCMARK_FUZZ_IMPORTER to an importer name"
#endif

namespace {

using allocmark::fuzz::MemFile;

void must(bool ok, const char* what, const std::string& error) {
  if (ok) return;
  std::fprintf(stderr, "%s: %s\n", what, error.c_str());
  std::abort();
}

// Exports with `exporter`, imports with `importer`: the result must be a valid trace with the
// same event counts (the Android form drops phase ends and accesses).
void round_trip(const allocmark::Trace& trace, const allocmark::TraceSummary& original,
                bool (*exporter)(const allocmark::Trace&, std::FILE*, std::string*),
                const char* importer, bool exact) {
  MemFile out;
  std::FILE* f = out.open_for_write();
  std::string error;
  must(exporter(trace, f, &error), "export", error);
  std::fclose(f);
  allocmark::Trace back;
  allocmark::ImportStats stats;
  must(allocmark::find_importer(importer)->import(out.path(), &back, &stats, &error), "re-import",
       error);
  allocmark::TraceSummary s;
  allocmark::TraceError te;
  must(allocmark::check_trace(back, &s, &te), "check after re-import", te.message());
  if (exact && (s.events != original.events || s.peak_live_bytes != original.peak_live_bytes ||
                s.dependencies != original.dependencies)) {
    std::fprintf(stderr, "%s round trip changed the trace\n", importer);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const allocmark::Importer* importer = allocmark::find_importer(ALLOCMARK_FUZZ_IMPORTER);
  if (importer == nullptr) std::abort();
  MemFile in(data, size);
  allocmark::Trace trace;
  allocmark::ImportStats stats;
  std::string error;
  if (!importer->import(in.path(), &trace, &stats, &error)) {
    if (error.empty() || error.find('\n') != std::string::npos) {
      std::fprintf(stderr, "refusal must be one non-empty line: '%s'\n", error.c_str());
      std::abort();
    }
    return 0;
  }
  // Every repair names a line of the input, and its warning is one line naming the input.
  for (int k = 0; k < allocmark::kRepairKinds; ++k) {
    const allocmark::RepairCount& r = stats.repairs[k];
    if (r.count != 0 && (r.first_line == 0 || r.first_line > stats.lines)) {
      std::fprintf(stderr, "repair %d: first line %llu outside 1..%llu\n", k,
                   static_cast<unsigned long long>(r.first_line),
                   static_cast<unsigned long long>(stats.lines));
      std::abort();
    }
  }
  for (const std::string& w : allocmark::repair_warnings(stats))
    if (!w.starts_with(stats.source + ":") || w.find('\n') != std::string::npos) {
      std::fprintf(stderr, "bad warning: '%s'\n", w.c_str());
      std::abort();
    }
  allocmark::TraceSummary summary;
  allocmark::TraceError te;
  must(allocmark::check_trace(trace, &summary, &te), "check_trace of an imported trace",
       te.message());
  // Whatever imports must also survive the binary format (its limits are the reader's).
  static const std::string amt = "/tmp/allocmark_fuzz_" + std::to_string(::getpid()) + ".amt";
  must(allocmark::write_trace(trace, amt, &te, /*level=*/1), "write_trace", te.message());
  allocmark::Trace back;
  must(allocmark::read_trace(amt, &back, &te), "read_trace of a written trace", te.message());
  std::remove(amt.c_str());  // a long run must not leave one file per fuzzer process in /tmp
  round_trip(trace, summary, &allocmark::export_text, "text", /*exact=*/true);
  // The Android form has no phase ends or accesses, and an empty Android file is refused.
  const uint64_t android_events = summary.events -
                                  summary.by_op[static_cast<int>(allocmark::Op::kPhaseEnd)] -
                                  summary.by_op[static_cast<int>(allocmark::Op::kAccess)];
  if (android_events != 0)
    round_trip(trace, summary, &allocmark::export_android, "android", /*exact=*/false);
  return 0;
}
