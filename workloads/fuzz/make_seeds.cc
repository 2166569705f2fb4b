// Writes the seed inputs of the fuzz targets that need our own formats: corpus/text/*.txt and
// corpus/trace_reader/*.amt. Layer: workloads fuzzing only. Build and run from the repo root
// (LIB = a built liballocmark_workloads.a, e.g. build/release/workloads/...):
//   c++ -std=c++20 -I. workloads/fuzz/make_seeds.cc LIB $(pkg-config --libs libzstd libxxhash
//   zlib) -o /tmp/make_seeds && /tmp/make_seeds
#include <cstdio>
#include <string>

#include "workloads/importers/text_format.h"
#include "workloads/trace_builder.h"
#include "workloads/trace_file.h"

namespace {

allocmark::Trace sample(bool with_phase) {
  allocmark::TraceBuilder b;
  const uint32_t t0 = b.thread(1), t1 = b.thread(2);
  b.malloc(t0, 0, 48);
  b.malloc(t0, 1, 64, allocmark::kFlagCxx);
  b.calloc(t1, 2, 4, 12);
  b.aligned_alloc(t1, 3, 4096, 100);
  b.access(t0, 1, 8, 16);
  b.free(t1, 0, allocmark::kFlagSizedFree);
  b.realloc(t0, 2, 200);
  b.realloc_from_null(t1, 4, 7);
  if (with_phase) b.phase_end(t1);
  b.thread_exit(t1);
  b.free(t0, 3);
  b.set_metadata_json("{\"source\":\"fuzz seed\"}");
  return b.finish();
}

bool write_text(const allocmark::Trace& t, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  std::string error;
  const bool ok = f && allocmark::export_text(t, f, &error);
  if (f) std::fclose(f);
  if (!ok) std::fprintf(stderr, "%s: %s\n", path.c_str(), error.c_str());
  return ok;
}

}  // namespace

int main() {
  const std::string dir = "workloads/fuzz/corpus/";
  allocmark::Trace a = sample(false), b = sample(true);
  allocmark::Trace no_schedule = sample(true);
  no_schedule.schedule.clear();
  allocmark::TraceError te;
  bool ok = write_text(a, dir + "text/builder.txt") && write_text(b, dir + "text/phase.txt") &&
            write_text(no_schedule, dir + "text/no_schedule.txt");
  ok = ok && allocmark::write_trace(a, dir + "trace_reader/builder.amt", &te, 3) &&
       allocmark::write_trace(b, dir + "trace_reader/phase.amt", &te, 3) &&
       allocmark::write_trace(no_schedule, dir + "trace_reader/no_schedule.amt", &te, 3);
  if (!ok) std::fprintf(stderr, "%s\n", te.message().c_str());
  return ok ? 0 : 1;
}
