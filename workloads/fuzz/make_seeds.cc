// Writes the seed inputs of the fuzz targets that need our own formats: corpus/text/*.txt,
// corpus/trace_reader/*.amt and corpus/trace_payload/*.bin. Layer: workloads fuzzing only. Build
// and run from the repo root (LIB = a built liballocmark_workloads.a, e.g.
// build/release/workloads/...):
//   c++ -std=c++20 -I. workloads/fuzz/make_seeds.cc LIB $(pkg-config --libs libzstd libxxhash
//   zlib) -o /tmp/make_seeds && /tmp/make_seeds
#include <zstd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
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

// The input shape of trace_payload_fuzz.cc: header counts, then the decompressed payload.
bool write_payload_seed(const std::string& amt, const std::string& out) {
  std::FILE* f = std::fopen(amt.c_str(), "rb");
  if (!f) return false;
  std::string bytes;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, n);
  std::fclose(f);
  uint32_t metadata_bytes;
  uint64_t raw_bytes, zstd_bytes;
  std::memcpy(&metadata_bytes, bytes.data() + 28, 4);
  std::memcpy(&raw_bytes, bytes.data() + 40, 8);
  std::memcpy(&zstd_bytes, bytes.data() + 48, 8);
  std::string raw(raw_bytes, '\0');
  const size_t got =
      ZSTD_decompress(raw.data(), raw.size(), bytes.data() + 64 + metadata_bytes, zstd_bytes);
  if (ZSTD_isError(got) || got != raw_bytes) return false;
  // Thread count, flags, object count (offsets 16-27), event count (32-39), payload.
  const std::string seed = bytes.substr(16, 12) + bytes.substr(32, 8) + raw;
  f = std::fopen(out.c_str(), "wb");
  if (!f) return false;
  std::fwrite(seed.data(), 1, seed.size(), f);
  return std::fclose(f) == 0;
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
  for (const char* name : {"builder", "phase", "no_schedule"})
    ok = ok && write_payload_seed(dir + "trace_reader/" + name + ".amt",
                                  dir + "trace_payload/" + name + ".bin");
  return ok ? 0 : 1;
}
