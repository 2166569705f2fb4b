// allocmark-worker: replays one trace against one allocator, once, and writes one JSON object.
// Layer: harness. Started by the parent (never by users); one allocator per process.
//
// Order matters for honest memory figures: decode the trace and build every table (mmap) and the
// sampler thread first, touch them, then read the baseline RSS, then replay.
#include <dlfcn.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <limits.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "allocators/null_allocator.h"
#include "harness/cpu_pinning.h"
#include "harness/hw_counters.h"
#include "harness/latency.h"
#include "harness/malloc_api.h"
#include "harness/native_allocators.h"
#include "harness/plugin_allocator.h"
#include "harness/proc_stats.h"
#include "harness/replay.h"
#include "harness/timeline.h"
#include "workloads/trace_file.h"

namespace allocmark {
namespace {

struct WorkerArgs {
  std::string trace;
  std::string allocator = "glibc";
  std::string kind = "preload";
  std::string options;
  std::string plugin_path;  // --kind plugin: the .so to dlopen
  bool describe = false;    // --describe 1: print the plugin's name and version, replay nothing
  ReplayConfig config;
  int result_fd = 1;
};

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "allocmark-worker: %s\n", msg.c_str());
  std::exit(2);
}

WorkerArgs parse_args(int argc, char** argv) {
  WorkerArgs a;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (i + 1 >= argc) usage_error("flag " + key + " needs a value");
    const std::string value = argv[++i];
    if (key == "--trace")
      a.trace = value;
    else if (key == "--allocator")
      a.allocator = value;
    else if (key == "--kind")
      a.kind = value;
    else if (key == "--options")
      a.options = value;
    else if (key == "--plugin-path")
      a.plugin_path = value;
    else if (key == "--describe")
      a.describe = value == "1";
    else if (key == "--result-fd")
      a.result_fd = std::atoi(value.c_str());
    else if (key == "--mode") {
      if (value == "serial")
        a.config.mode = ReplayMode::kSerial;
      else if (value == "threads")
        a.config.mode = ReplayMode::kThreads;
      else
        usage_error("--mode expects serial or threads, got '" + value + "'");
    } else if (key == "--touch") {
      if (!parse_touch_policy(value, &a.config.touch))
        usage_error("--touch expects none, first, pages or full, got '" + value + "'");
    } else if (key == "--pin") {
      a.config.pin = value == "1";
    } else if (key == "--check") {
      a.config.check = value == "1";
    } else if (key == "--latency-period") {
      a.config.latency_period = static_cast<uint32_t>(std::max(1, std::atoi(value.c_str())));
    } else {
      usage_error("unknown flag " + key);
    }
  }
  if (a.kind == "plugin" && a.plugin_path.empty()) usage_error("--kind plugin needs --plugin-path");
  if (a.trace.empty() && !a.describe) usage_error("--trace is required");
  return a;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\', out += c;
    else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else
      out += c;
  }
  return out;
}

// Which library serves malloc in this process, and its version where it says.
std::string malloc_provider() {
  Dl_info info{};
  void* sym = dlsym(RTLD_DEFAULT, "malloc");
  if (sym && dladdr(sym, &info) && info.dli_fname) return info.dli_fname;
  return "?";
}

std::string allocator_version() {
  if (auto mi = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "mi_version"))) {
    const int v = mi();
    return std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." +
           std::to_string(v % 10);
  }
  if (auto tc = reinterpret_cast<const char* (*)(int*, int*, const char**)>(
          dlsym(RTLD_DEFAULT, "tc_version"))) {
    int major, minor;
    const char* patch;
    return tc(&major, &minor, &patch);
  }
  using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);
  if (auto je = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"))) {
    const char* v = nullptr;
    size_t len = sizeof v;
    if (je("version", &v, &len, nullptr, 0) == 0 && v) return v;
  }
  // No version call (tbbmalloc, a user's library): the file the soname resolves to says it,
  // e.g. libtbbmalloc_proxy.so.2.8.
  const std::string provider = malloc_provider();
  if (provider.find("/libc.so") == std::string::npos) {
    char resolved[PATH_MAX];
    if (realpath(provider.c_str(), resolved)) {
      const char* slash = std::strrchr(resolved, '/');
      return slash ? slash + 1 : resolved;
    }
    return provider;
  }
  return std::string("glibc ") + gnu_get_libc_version();
}

struct Result {
  std::string status = "ok";
  std::string detail;
  std::string extra;  // pre-rendered JSON members, each starting with ','
};

template <class A>
Result replay_with(A& alloc, Trace& trace, const TraceSummary& summary, ReplayConfig config) {
  Replayer<A> replayer(alloc, trace, config);
  replayer.phase_reset_ok_ = phase_ends_leave_heap_empty(trace, config.mode);
  // Resettable is decided at compile time; a plugin without reset keeps the phase frees.
  if constexpr (requires { alloc.can_reset(); }) replayer.phase_reset_ok_ &= alloc.can_reset();
  // A one-thread replay runs pinned to the last CPU, its sampler elsewhere: migrations were the
  // largest source of run-to-run spread measured on this 2-core machine (CV of churn cells
  // from 5-25 % down to 2-7 %). Multi-threaded replays are left to the scheduler.
  const int replay_cpu = (config.pin && trace.threads.size() == 1) ? pin_replay_to_last_cpu() : -1;
  RssReader rss;
  TimelineSampler sampler(
      rss, [](const void* r) { return static_cast<const Replayer<A>*>(r)->live_bytes(); },
      &replayer);
  keep_off_cpu(sampler.thread(), replay_cpu);
  if (replay_cpu >= 0) sampler.set_initial_interval(10000);  // the other core is the sampler's
  const double timer_ns = timer_overhead_ns();
  HwCounters counters;  // opened before the baseline: its fds and buffers are not the heap's

  replayer.prepare();  // replay threads exist before the baseline
  const uint64_t baseline = rss.rss_bytes();
  const bool hwm_reset = reset_peak_rss();
  const Usage before = process_usage();
  sampler.start();
  counters.start();
  const uint64_t wall = replayer.run();
  counters.stop();
  sampler.stop();
  const Usage used = process_usage() - before;
  const uint64_t final_rss = rss.rss_bytes();
  uint64_t peak = sampler.peak_rss();
  if (hwm_reset) peak = std::max(peak, peak_rss_bytes());
  const int64_t final_live = replayer.live_bytes();
  // After a failure the allocator may be broken for good: freeing every live block could crash
  // or hang in it and lose the status already known, so "memory given back" is not measured.
  if (!replayer.failure().failed) replayer.drain();
  const uint64_t drained = replayer.failure().failed ? final_rss : rss.rss_bytes();

  Result r;
  if (replayer.failure().failed) {
    r.status = replayer.failure().status;
    r.detail = replayer.failure().detail;
  }
  const uint64_t events = replayer.events_done();
  uint64_t sampled = 0;
  for (const auto& l : replayer.latency()) sampled += l.used;
  const double secs = static_cast<double>(wall) / 1e9;
  const uint64_t footprint = peak > baseline ? peak - baseline : 0;
  auto num = [](const char* k, double v) {
    char buf[96];
    std::snprintf(buf, sizeof buf, ",\"%s\":%.6g", k, v);
    return std::string(buf);
  };
  auto u64 = [](const char* k, uint64_t v) {
    return ",\"" + std::string(k) + "\":" + std::to_string(v);
  };
  std::string& x = r.extra;
  x += u64("events", events) + u64("wall_ns", wall);
  x += num("ops_per_sec", secs > 0 ? static_cast<double>(events) / secs : 0);
  x += num("ns_per_op", events ? static_cast<double>(wall) / static_cast<double>(events) : 0);
  x += u64("user_ns", used.user_ns) + u64("sys_ns", used.sys_ns);
  x += u64("baseline_rss_bytes", baseline) + u64("peak_rss_bytes", peak);
  x += u64("final_rss_bytes", final_rss) + u64("drained_rss_bytes", drained);
  x += u64("peak_live_bytes", summary.peak_live_bytes);
  x += u64("final_live_bytes", final_live > 0 ? static_cast<uint64_t>(final_live) : 0);
  if (summary.peak_live_bytes) {
    x += num("fragmentation",
             static_cast<double>(footprint) / static_cast<double>(summary.peak_live_bytes));
  }
  if (footprint) {
    x += num("utilisation",
             static_cast<double>(summary.peak_live_bytes) / static_cast<double>(footprint));
  }
  x += u64("minor_faults", used.minor_faults) + u64("major_faults", used.major_faults);
  x += u64("voluntary_switches", used.voluntary_switches);
  x += u64("involuntary_switches", used.involuntary_switches);
  x += u64("phase_resets", replayer.resets());
  x += ",\"peak_rss_source\":\"" + std::string(hwm_reset ? "VmHWM+samples" : "samples") + "\"";
  x += num("latency_timer_ns", timer_ns);
  x += num("latency_sampled_fraction",
           events ? static_cast<double>(sampled) / static_cast<double>(events) : 0);
  // What sampling adds to the measured wall time: two clock reads per sampled event.
  x += num("latency_distortion",
           wall ? static_cast<double>(sampled) * timer_ns / static_cast<double>(wall) : 0);
  x += ",\"pinned_cpu\":" + std::to_string(replay_cpu);
  // What was written into blocks: nothing when the allocator's memory is fake (null).
  x += ",\"touch\":\"" +
       std::string(config.touch_limit == 0 ? "none" : touch_policy_name(config.touch)) + "\"";
  x += counters.json();
  x += ",\"latency\":" + latency_json(replayer.latency());
  x += ",\"timeline\":" + sampler.json();
  return r;
}

// Writes the whole line with write(2): stdio would malloc its buffer on the first write, and
// by then the allocator under test may be returning null or garbage for good.
void write_line(int fd, const std::string& line) {
  const char* p = line.data();
  size_t left = line.size();
  while (left) {
    const ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) usage_error("cannot write to result fd " + std::to_string(fd));
    p += n;
    left -= static_cast<size_t>(n);
  }
}

int worker_main(int argc, char** argv) {
  WorkerArgs args = parse_args(argc, argv);
  Trace trace;
  TraceError error;
  TraceSummary summary;
  const int out = args.result_fd;
  if (args.describe) {  // the parent asks a plugin's name without loading it itself
    write_line(out, plugin_describe_json(args.plugin_path) + "\n");
    return 0;
  }
  if (!read_trace(args.trace, &trace, &error, &summary)) {
    write_line(out, "{\"status\":\"error\",\"detail\":\"" + json_escape(error.message()) +
                        "\"}\n");
    return 0;
  }
  mark_dependency_targets(trace);
  ReplayConfig config = args.config;
  Result result;
  std::string options_json = "{}";
  // Both ask the dynamic linker (dlsym, dladdr), which may malloc: before the replay.
  std::string version = args.kind == "native" ? args.allocator : allocator_version();
  const std::string provider = malloc_provider();
  // The worker's own objects live in its own heap (worker_heap.cc), but glibc may still need
  // the allocator under test (thread start-up calls calloc for TLS): an allocator that fails
  // there makes a C++ exception, recorded as the cell's error rather than a crash.
  try {
    if (args.kind == "native") {
      std::string err;
      const bool known =
          with_native_allocator(args.allocator, args.options, &options_json, &err, [&](auto& alloc) {
            ReplayConfig cfg = config;
            using A = std::decay_t<decltype(alloc)>;
            // The null allocator hands out one shared scratch page: write nothing into it. Its
            // row is the harness alone, and writes from several threads to the one page would
            // add false sharing that no real allocator causes (cache-thrash showed 1.3x glibc).
            if constexpr (std::is_same_v<A, NullAllocator>) {
              cfg.touch_limit = 0;
              cfg.check = false;  // every block is the same scratch page: nothing to check
            }
            result = replay_with(alloc, trace, summary, cfg);
          });
      if (!known) {
        result.status = "error";
        result.detail = err;
      }
    } else if (args.kind == "plugin") {
      options_json = "{\"text\":\"" + json_escape(args.options) + "\"}";
      PluginAllocator plugin;  // loaded and created before the baseline RSS, like a native one
      if (plugin.open(args.plugin_path, args.options, &result.detail)) {
        version = plugin.info().version;
        result = replay_with(plugin, trace, summary, config);
      } else {
        result.status = "error";
      }
    } else {
      MallocApi api;
      result = replay_with(api, trace, summary, config);
    }
  } catch (const std::exception& e) {
    result.status = "error";
    result.detail = std::string("worker set-up failed under this allocator: ") + e.what();
  }
  write_line(out, "{\"status\":\"" + result.status + "\",\"detail\":\"" +
                      json_escape(result.detail) + "\",\"replay_mode\":\"" +
                      (config.mode == ReplayMode::kSerial ? "serial" : "threads") +
                      "\",\"allocator_version\":\"" + json_escape(version) +
                      "\",\"malloc_provider\":\"" + json_escape(provider) +
                      "\",\"options\":" + options_json + result.extra + "}\n");
  return 0;
}

}  // namespace
}  // namespace allocmark

int main(int argc, char** argv) { return allocmark::worker_main(argc, argv); }
