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

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "allocators/null_allocator.h"
#include "harness/worker/cpu_pinning.h"
#include "harness/worker/hw_counters.h"
#include "harness/worker/latency.h"
#include "harness/worker/malloc_api.h"
#include "harness/worker/native_allocators.h"
#include "harness/worker/plugin_allocator.h"
#include "harness/worker/proc_stats.h"
#include "harness/worker/replay.h"
#include "harness/worker/result_record.h"
#include "harness/worker/stream_replay.h"
#include "harness/worker/timeline.h"
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
  bool force_clock_gettime = false;  // --in-call-clock clock_gettime: never the TSC
  bool in_call_period_given = false;
  double in_call_cap_us = 20;     // --in-call-cap-us; 0: no cap (harness/README.md, "Replay")
  std::string stream = "auto";    // --stream auto|always|never (harness/worker/stream_replay.h)
  uint64_t live_objects = 0;      // --live-objects: the trace's peak, from the parent's check
  bool phase_ends_empty = false;  // --phase-ends-empty 1: the parent's check found it so
};

// Streams a trace whose decoded events and object table would take more than this.
constexpr uint64_t kStreamAboveBytes = uint64_t{1} << 30;

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
    else if (key == "--stream")
      a.stream = value;
    else if (key == "--live-objects")
      a.live_objects = std::strtoull(value.c_str(), nullptr, 10);
    else if (key == "--phase-ends-empty")
      a.phase_ends_empty = value == "1";
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
    } else if (key == "--in-call-period") {
      a.config.in_call_period = static_cast<uint32_t>(std::max(0, std::atoi(value.c_str())));
      a.in_call_period_given = true;
    } else if (key == "--in-call-cap-us") {
      a.in_call_cap_us = std::atof(value.c_str());
    } else if (key == "--in-call-clock") {
      if (value != "auto" && value != "clock_gettime")
        usage_error("--in-call-clock expects auto or clock_gettime, got '" + value + "'");
      a.force_clock_gettime = value == "clock_gettime";
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

// Which library serves malloc in this process, and its version where it says.
std::string malloc_provider() {
  Dl_info info{};
  void* sym = dlsym(RTLD_DEFAULT, "malloc");
  if (sym && dladdr(sym, &info) && info.dli_fname) return info.dli_fname;
  return "?";
}

// For a preloaded allocator: "" when malloc in this process comes from a library named in
// LD_PRELOAD, else why not. The loader skips a preload it cannot load (a missing dependency, a
// library for another machine) with only a warning, and a static or setuid program ignores
// LD_PRELOAD: without this check such a cell would silently measure glibc.
std::string preload_not_serving(const std::string& provider) {
  const char* preload = std::getenv("LD_PRELOAD");
  if (!preload || !*preload) return "";
  char served[PATH_MAX];
  if (!realpath(provider.c_str(), served)) return "";  // unknown provider: nothing to compare
  std::string list = preload, first;
  for (char& c : list)
    if (c == ':') c = ' ';
  size_t pos = 0;
  while (pos < list.size()) {
    const size_t end = std::min(list.find(' ', pos), list.size());
    const std::string lib = list.substr(pos, end - pos);
    pos = end + 1;
    if (lib.empty()) continue;
    if (first.empty()) first = lib;
    char wanted[PATH_MAX];
    if (realpath(lib.c_str(), wanted) && std::strcmp(wanted, served) == 0) return "";
  }
  return "allocator not loaded: " + first + " was preloaded but malloc is served by " + provider +
         " (the loader skipped it, or it does not define malloc): nothing measured";
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

// What replay_with read around the timed region.
struct Readings {
  uint64_t wall, baseline, peak, final_rss, drained;
  int64_t final_live;
  Usage used;
  bool hwm_reset;
  int replay_cpu;
  double timer_ns;
};

// The measurement's derived figures: rates, footprint ratios, faults, latency and its cost.
template <class A>
void fill_measurement(const Readings& r, const Replayer<A>& replayer, const TraceSummary& summary,
                      const ReplayConfig& config, ReplayMeasurement* out) {
  ReplayMeasurement& m = *out;
  const uint64_t events = replayer.events_done();
  uint64_t sampled = 0;
  for (const auto& l : replayer.latency()) sampled += l.used;
  const double secs = static_cast<double>(r.wall) / 1e9;
  const uint64_t footprint = r.peak > r.baseline ? r.peak - r.baseline : 0;
  m.events = events;
  m.wall_ns = r.wall;
  m.ops_per_sec = secs > 0 ? static_cast<double>(events) / secs : 0;
  m.ns_per_op = events ? static_cast<double>(r.wall) / static_cast<double>(events) : 0;
  m.user_ns = r.used.user_ns;
  m.sys_ns = r.used.sys_ns;
  m.baseline_rss_bytes = r.baseline;
  m.peak_rss_bytes = r.peak;
  m.peak_rss_source = r.hwm_reset ? "VmHWM+samples" : "samples";
  m.final_rss_bytes = r.final_rss;
  m.drained_rss_bytes = r.drained;
  m.final_live_bytes = r.final_live > 0 ? static_cast<uint64_t>(r.final_live) : 0;
  if (summary.peak_live_bytes)
    m.fragmentation = static_cast<double>(footprint) / static_cast<double>(summary.peak_live_bytes);
  if (footprint)
    m.utilisation = static_cast<double>(summary.peak_live_bytes) / static_cast<double>(footprint);
  m.minor_faults = r.used.minor_faults;
  m.major_faults = r.used.major_faults;
  m.voluntary_switches = r.used.voluntary_switches;
  m.involuntary_switches = r.used.involuntary_switches;
  m.phase_resets = replayer.resets();
  m.latency_timer_ns = r.timer_ns;
  m.latency_sampled_fraction =
      events ? static_cast<double>(sampled) / static_cast<double>(events) : 0;
  // What sampling adds to the measured wall time: two clock reads per sampled event.
  m.latency_distortion =
      r.wall ? static_cast<double>(sampled) * r.timer_ns / static_cast<double>(r.wall) : 0;
  m.pinned_cpu = r.replay_cpu;
  // What was written into blocks: nothing when the allocator's memory is fake (null).
  m.touch = config.touch_limit == 0 ? "none" : touch_policy_name(config.touch);
  m.latency = latency_percentiles(replayer.latency());
  if (config.in_call_period) {
    const auto in_call = replayer.in_call();
    m.in_call_clock = config.call_clock.name();
    m.in_call_ns = static_cast<uint64_t>(std::llround(in_call.ns));
    m.in_call_ns_per_op = events ? in_call.ns / static_cast<double>(events) : 0;
    m.in_call_timer_ns = config.call_clock.pair_ns();
    m.in_call_cap_ns = config.call_clock.cap_ns();
    m.in_call_timed_fraction =
        events ? static_cast<double>(in_call.timed) / static_cast<double>(events) : 0;
    // What timing adds to the wall time, at most: the throughput cost of a read pair per timed
    // call (summed over threads, like latency_distortion).
    m.in_call_distortion = r.wall ? static_cast<double>(in_call.timed) *
                                        config.call_clock.pair_cost_ns / static_cast<double>(r.wall)
                                  : 0;
  }
}

// Replays once and fills the record's status and measurement.
// `streamed`: the trace is replayed chunk by chunk from it (`trace` is its shell, `summary` the
// parent's facts), else `trace` holds every event and `summary` is its check's.
template <class A>
void replay_with(A& alloc, Trace& trace, TraceSummary summary, ReplayConfig config,
                 ResultRecord* record, StreamedTrace* streamed) {
  Replayer<A> replayer(alloc, trace, config);
  replayer.phase_reset_ok_ = summary.phase_ends_empty;  // the check's, or the parent's
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
  if (streamed && streamed->prime()) replayer.ensure_slots(trace.object_count);
  const uint64_t baseline = rss.rss_bytes();
  const bool hwm_reset = reset_peak_rss();
  const Usage before = process_usage();
  sampler.start();
  counters.start();
  const uint64_t wall = streamed ? streamed->run(replayer) : replayer.run();
  counters.stop();
  sampler.stop();
  const Usage used = process_usage() - before;
  const uint64_t final_rss = rss.rss_bytes();
  uint64_t peak = sampler.peak_rss();
  if (hwm_reset) peak = std::max(peak, peak_rss_bytes());
  const int64_t final_live = replayer.live_bytes();
  const bool failed = replayer.failure().failed;
  ReplayMeasurement m;
  // The allocator's own view, before draining changes it (and never from a broken one).
  if constexpr (HasStats<A>) {
    if (!failed) m.allocator_stats = alloc.stats();
  }
  // After a failure the allocator may be broken for good: freeing every live block could crash
  // or hang in it and lose the status already known, so "memory given back" is not measured.
  if (!failed) replayer.drain();
  const uint64_t drained = failed ? final_rss : rss.rss_bytes();

  if (failed) {
    record->status = replayer.failure().status;
    record->detail = replayer.failure().detail;
  } else if (streamed && !streamed->error().empty()) {
    record->status = "error";
    record->detail = streamed->error();
  }
  if (streamed) summary.peak_live_bytes = streamed->peak_live_bytes();
  const Readings readings{wall,       baseline, peak,      final_rss,  drained,
                          final_live, used,     hwm_reset, replay_cpu, timer_ns};
  fill_measurement(readings, replayer, summary, config, &m);
  m.hw = counters.values();
  m.timeline = sampler.timeline();
  record->measured = std::move(m);
}

// One line of JSON. Text from outside (stderr, a plugin's error) may not be UTF-8: replaced,
// never thrown on.
std::string record_line(const ResultRecord& record) {
  return nlohmann::json(record).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
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

// Events of the trace's longest thread (a streamed trace: all of them, as replayed serially).
uint64_t longest_thread_events(const Trace& trace, const ReplayConfig& config) {
  uint64_t n = config.expected_events;
  for (const auto& t : trace.threads) n = std::max<uint64_t>(n, t.events.size());
  return n;
}

// The replay settings with the in-call clock: chosen, calibrated (~25 ms) and its cost measured
// once, before the heap baseline. A check run is not timed.
ReplayConfig replay_config(const WorkerArgs& args, const Trace& trace) {
  ReplayConfig config = args.config;
  if (!args.in_call_period_given)
    config.in_call_period =
        in_call_period_for(config.mode, trace.threads.size(), std::thread::hardware_concurrency(),
                           longest_thread_events(trace, config));
  if (config.check) config.in_call_period = 0;
  if (config.in_call_period) config.call_clock = make_call_clock(args.force_clock_gettime);
  if (args.in_call_cap_us > 0)
    config.call_clock.cap_ticks =
        static_cast<uint64_t>(args.in_call_cap_us * 1000 / config.call_clock.ns_per_tick);
  return config;
}

// The trace whole (read and fully checked) or, when it is too long to hold decoded, opened for
// streaming with the parent's facts standing in for the summary.
bool load_trace(const WorkerArgs& args, Trace* trace, TraceSummary* summary,
                std::unique_ptr<StreamedTrace>* streamed, TraceError* error) {
  TraceReader probe;
  if (!probe.open(args.trace, error)) return false;
  if (should_stream(args.stream, probe.info(), args.config.mode == ReplayMode::kSerial,
                    kStreamAboveBytes)) {
    *streamed = std::make_unique<StreamedTrace>();
    if (!(*streamed)->open(args.trace, args.live_objects, error)) return false;
    summary->threads = probe.info().threads;
    summary->objects = probe.info().objects;
    summary->phase_ends_empty = args.phase_ends_empty;
    return true;
  }
  if (!read_trace(args.trace, trace, error, summary)) return false;
  // Reusable slots keep the object table as small as the live set (harness/README.md, "Replay").
  // Not in a --check run (untimed): its messages name the trace's own object ids.
  std::string why;
  if (!args.config.check && !map_trace_to_slots(*trace, &why))
    return *error = TraceError{args.trace, 0, "file", why}, false;
  mark_dependency_targets(*trace);
  return true;
}

// A streamed replay is serial, and samples latency with an odd period (61, then 123, 247...)
// stretched so at most kMaxLatencySamples are kept per thread.
void configure_streamed(uint64_t events, ReplayConfig* config) {
  config->mode = ReplayMode::kSerial;
  config->expected_events = events;
  uint64_t period = config->latency_period;
  while (events / period > StreamedTrace::kMaxLatencySamples) period = period * 2 + 1;
  config->latency_period = static_cast<uint32_t>(std::min<uint64_t>(period, UINT32_MAX));
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
  ResultRecord record;
  record.replay_mode = args.config.mode == ReplayMode::kSerial ? "serial" : "threads";
  std::unique_ptr<StreamedTrace> streamed;
  if (!load_trace(args, &trace, &summary, &streamed, &error)) {
    record.status = "error";
    record.detail = error.message();
    write_line(out, record_line(record));
    return 0;
  }
  if (streamed) {
    record.replay_mode = "serial";
    configure_streamed(streamed->info().events, &args.config);
  }
  Trace& model = streamed ? streamed->shell() : trace;
  const ReplayConfig config = replay_config(args, model);
  // Both ask the dynamic linker (dlsym, dladdr), which may malloc: before the replay.
  record.allocator_version = args.kind == "native" ? args.allocator : allocator_version();
  record.malloc_provider = malloc_provider();
  // The worker's own objects live in its own heap (worker_heap.cc), but glibc may still need
  // the allocator under test (thread start-up calls calloc for TLS): an allocator that fails
  // there makes a C++ exception, recorded as the cell's error rather than a crash.
  try {
    if (args.kind == "native") {
      std::string err;
      std::string options_json;
      const bool known = with_native_allocator(
          args.allocator, args.options, &options_json, &err, [&](auto& alloc) {
            ReplayConfig cfg = config;
            using A = std::decay_t<decltype(alloc)>;
            // The null allocator hands out one shared scratch page: write nothing into it. Its
            // row is the harness alone, and writes from several threads to the one page would
            // add false sharing that no real allocator causes (cache-thrash showed 1.3x glibc).
            if constexpr (std::is_same_v<A, NullAllocator>) {
              cfg.touch_limit = 0;
              cfg.check = false;  // every block is the same scratch page: nothing to check
            }
            replay_with(alloc, model, summary, cfg, &record, streamed.get());
          });
      if (known) {
        // The options table renders itself ("{}" when it has none, empty for null).
        auto options = nlohmann::json::parse(options_json, nullptr, false);
        if (options.is_object()) record.options = std::move(options);
      } else {
        record.status = "error";
        record.detail = err;
      }
    } else if (args.kind == "plugin") {
      record.options = {{"text", args.options}};
      PluginAllocator plugin;  // loaded and created before the baseline RSS, like a native one
      if (plugin.open(args.plugin_path, args.options, &record.detail)) {
        record.allocator_version = plugin.info().version;
        replay_with(plugin, model, summary, config, &record, streamed.get());
      } else {
        record.status = "error";
      }
    } else if (const std::string why = preload_not_serving(record.malloc_provider); !why.empty()) {
      record.status = "error";
      record.detail = why;
    } else {
      MallocApi api;
      replay_with(api, model, summary, config, &record, streamed.get());
    }
  } catch (const std::exception& e) {
    record.status = "error";
    record.detail = std::string("worker set-up failed under this allocator: ") + e.what();
  }
  write_line(out, record_line(record));
  return 0;
}

}  // namespace
}  // namespace allocmark

int main(int argc, char** argv) { return allocmark::worker_main(argc, argv); }
