// libFuzzer target for the trace decoder behind read_trace: the input is the header counts and
// the decompressed payload, wrapped here into a well-formed file (zstd frame, right checksum),
// so mutations reach decode_payload and check_trace instead of dying at the checksum.
// Layer: workloads fuzzing only (built by workloads/fuzz/run.sh).
#include <xxhash.h>
#include <zstd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "workloads/fuzz/fuzz_input.h"
#include "workloads/trace_file.h"

namespace {

// Input: thread count u32, header flags u32, object count u32, event count u64, then the raw
// payload (make_seeds.cc writes real ones in this shape).
constexpr size_t kPrefix = 20;

void put(std::string& out, const void* p, size_t n) { out.append(static_cast<const char*>(p), n); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kPrefix) return 0;
  uint32_t threads, flags, objects;
  uint64_t events;
  std::memcpy(&threads, data, 4);
  std::memcpy(&flags, data + 4, 4);
  std::memcpy(&objects, data + 8, 4);
  std::memcpy(&events, data + 12, 8);
  const uint8_t* raw = data + kPrefix;
  const size_t raw_size = size - kPrefix;
  // One compression context for the whole run: ZSTD_compress makes and zeroes a fresh one per
  // call, which was a third of this target's time (perf, 1.2 k exec/s on a busy machine).
  static ZSTD_CCtx* const cctx = ZSTD_createCCtx();
  std::string zstd(ZSTD_compressBound(raw_size), '\0');
  const size_t zsize = ZSTD_compressCCtx(cctx, zstd.data(), zstd.size(), raw, raw_size, 1);
  if (ZSTD_isError(zsize)) std::abort();
  zstd.resize(zsize);
  const std::string metadata = "{}";
  std::string file;
  put(file, allocmark::kTraceMagic, 8);
  const uint32_t version = allocmark::kTraceFormatVersion, header_bytes = 64;
  const uint32_t metadata_bytes = static_cast<uint32_t>(metadata.size());
  const uint64_t raw_bytes = raw_size, zstd_bytes = zsize;
  put(file, &version, 4);
  put(file, &header_bytes, 4);
  put(file, &threads, 4);
  put(file, &flags, 4);
  put(file, &objects, 4);
  put(file, &metadata_bytes, 4);
  put(file, &events, 8);
  put(file, &raw_bytes, 8);
  put(file, &zstd_bytes, 8);
  const std::string body = metadata + zstd;
  const uint64_t checksum = XXH64(body.data(), body.size(), 0);
  put(file, &checksum, 8);
  file += body;

  allocmark::fuzz::MemFile in(reinterpret_cast<const uint8_t*>(file.data()), file.size());
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
