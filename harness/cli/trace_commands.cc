// The trace subcommands. Layer: harness/cli. Each refuses bad input with one line and status 2.
#include "harness/cli/trace_commands.h"

#include <bit>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "workloads/generator.h"
#include "workloads/importer.h"
#include "workloads/importers/android_format.h"
#include "workloads/importers/text_format.h"
#include "workloads/trace_file.h"
#include "workloads/trace_stream.h"

namespace allocmark {
namespace {

// What info, validate and convert report of a trace, however it was read.
struct Loaded {
  TraceSummary summary;
  bool recorded_order = false;
  std::string metadata_json = "{}";
};

bool report(const TraceError& err) {
  std::fprintf(stderr, "allocmark: %s\n", err.message().c_str());
  return false;
}

// Checks our format chunk by chunk (any length; `copy` receives the events), without holding it.
bool check_amt(const std::string& path, Loaded* out, TraceWriter* copy = nullptr) {
  TraceError err;
  TraceFileInfo info;
  if (!check_trace_file(path, &out->summary, &err, &info, copy)) return report(err);
  out->recorded_order = info.recorded_order;
  out->metadata_json = info.metadata_json;
  return true;
}

// Reads FILE as our format, or through an importer when `from` names one, into memory.
bool load_any(const std::string& path, const std::string& from, Trace* trace, Loaded* out) {
  if (from == "amt") {
    TraceError err;
    if (!read_trace(path, trace, &err, &out->summary)) return report(err);
  } else {
    const Importer* imp = find_importer(from);
    if (!imp) {
      std::string known = "amt";
      for (const auto& i : importers()) known += ", " + i.name;
      std::fprintf(stderr, "allocmark: --from: unknown format '%s' (known: %s)\n", from.c_str(),
                   known.c_str());
      return false;
    }
    ImportStats stats;
    std::string error;
    if (!imp->import(path, trace, &stats, &error)) {
      std::fprintf(stderr, "allocmark: %s\n", error.c_str());
      return false;
    }
    for (const std::string& warning : repair_warnings(stats))
      std::fprintf(stderr, "allocmark: %s\n", warning.c_str());
    TraceError err;
    if (!check_trace(*trace, &out->summary, &err)) return err.path = path, report(err);
  }
  out->recorded_order = !trace->schedule.empty();
  out->metadata_json = trace->metadata_json;
  return true;
}

// Our format is checked as a stream; other formats are imported whole.
bool load_summary(const std::string& path, const std::string& from, Loaded* out) {
  if (from == "amt") return check_amt(path, out);
  Trace trace;
  return load_any(path, from, &trace, out);
}

nlohmann::json summary_json(const Loaded& loaded) {
  const TraceSummary& s = loaded.summary;
  nlohmann::json by_op = nlohmann::json::object();
  for (int i = 0; i < kOpCount; ++i)
    if (s.by_op[i]) by_op[op_name(static_cast<Op>(i))] = s.by_op[i];
  // Power-of-two buckets as an ordered list: [{"min":..,"max":..,"count":..}, ...].
  auto buckets = [](const uint64_t(&h)[65]) {
    nlohmann::json out = nlohmann::json::array();
    for (int b = 0; b < 65; ++b) {
      if (!h[b]) continue;
      const uint64_t lo = b == 0 ? 0 : 1ull << (b - 1);
      const uint64_t hi = b == 0 ? 0 : b == 64 ? UINT64_MAX : (1ull << b) - 1;
      out.push_back({{"min", lo}, {"max", hi}, {"count", h[b]}});
    }
    return out;
  };
  return {{"events", s.events},
          {"events_by_op", by_op},
          {"threads", s.threads},
          {"objects", s.objects},
          {"peak_live_bytes", s.peak_live_bytes},
          {"peak_live_objects", s.peak_live_objects},
          {"final_live_bytes", s.final_live_bytes},
          {"final_live_objects", s.final_live_objects},
          {"total_allocated_bytes", s.total_allocated_bytes},
          {"cross_thread_frees", s.cross_thread_frees},
          {"dependencies", s.dependencies},
          {"recorded_order", loaded.recorded_order},
          {"size_histogram", buckets(s.size_histogram)},
          {"lifetime_histogram_events", buckets(s.lifetime_histogram)},
          {"metadata", nlohmann::json::parse(loaded.metadata_json, nullptr, false)}};
}

}  // namespace

void TraceCommands::add_to(CLI::App& app) {
  trace_ = app.add_subcommand("trace", "Inspect, validate, convert and generate traces");
  trace_->require_subcommand(1);
  info_ = trace_->add_subcommand("info", "Events by kind, threads, live bytes, sizes");
  info_->add_option("file", file_, "Trace file")->required();
  info_->add_option("--from", from_, "Input format (default: amt, ours)");
  info_->add_flag("--json", json_, "Print JSON");
  validate_ = trace_->add_subcommand("validate", "Check a trace fully; exit 1 if refused");
  validate_->add_option("file", file_, "Trace file")->required();
  validate_->add_option("--from", from_, "Input format (default: amt, ours)");
  convert_ = trace_->add_subcommand("convert", "Convert between trace formats");
  convert_->add_option("in", in_, "Input file (Android input may be a .zip)")->required();
  convert_->add_option("out", out_, "Output file")->required();
  convert_->add_option("--from", from_, "Input format: amt, text, android, malloclab, ...");
  convert_->add_option("--to", to_, "Output format: amt (default), text, android");
  convert_->add_option("--level", level_, "zstd level for amt output")->check(CLI::Range(1, 22));
  gen_ = trace_->add_subcommand("gen", "Generate a workload's trace");
  gen_->add_option("name", gen_name_, "Generator (allocmark list workloads)")->required();
  gen_->add_option("--param", params_, "K=V parameter (repeatable)");
  gen_->add_option("--threads", threads_, "Thread count")->check(CLI::Range(1, 4096));
  gen_->add_option("--seed", seed_, "Seed");
  gen_->add_option("-o,--out", out_, "Output file")->required();
  gen_->add_option("--level", gen_level_, "zstd level (default 3)")->check(CLI::Range(1, 22));
}

bool TraceCommands::selected() const { return trace_ && trace_->parsed(); }

int TraceCommands::run() {
  if (info_->parsed()) return info();
  if (validate_->parsed()) return validate();
  if (convert_->parsed()) return convert();
  return gen();
}

int TraceCommands::info() {
  Loaded loaded;
  if (!load_summary(file_, from_, &loaded)) return 2;
  const TraceSummary& s = loaded.summary;
  const auto j = summary_json(loaded);
  if (json_) {
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("trace           %s\n", file_.c_str());
  std::printf("events          %llu\n", static_cast<unsigned long long>(s.events));
  for (auto it = j["events_by_op"].begin(); it != j["events_by_op"].end(); ++it)
    std::printf("  %-14s%s\n", it.key().c_str(), it->dump().c_str());
  std::printf("threads         %u\n", s.threads);
  std::printf("objects         %u\n", s.objects);
  std::printf("peak live       %llu bytes, %llu objects\n",
              static_cast<unsigned long long>(s.peak_live_bytes),
              static_cast<unsigned long long>(s.peak_live_objects));
  std::printf("final live      %llu bytes, %llu objects\n",
              static_cast<unsigned long long>(s.final_live_bytes),
              static_cast<unsigned long long>(s.final_live_objects));
  std::printf("allocated       %llu bytes in total\n",
              static_cast<unsigned long long>(s.total_allocated_bytes));
  std::printf("cross-thread    %llu frees, %llu dependencies\n",
              static_cast<unsigned long long>(s.cross_thread_frees),
              static_cast<unsigned long long>(s.dependencies));
  std::printf("recorded order  %s\n", loaded.recorded_order ? "yes" : "no");
  auto print_buckets = [](const char* title, const nlohmann::json& list) {
    std::printf("%s\n", title);
    for (const auto& b : list)
      std::printf("  %12llu - %-12llu %llu\n", b["min"].get<unsigned long long>(),
                  b["max"].get<unsigned long long>(), b["count"].get<unsigned long long>());
  };
  print_buckets("sizes (bytes)", j["size_histogram"]);
  print_buckets("lifetimes of freed objects (events)", j["lifetime_histogram_events"]);
  return 0;
}

int TraceCommands::validate() {
  Loaded loaded;
  if (!load_summary(file_, from_, &loaded)) return 1;
  const TraceSummary& s = loaded.summary;
  std::printf("%s: valid, %llu events, %u threads\n", file_.c_str(),
              static_cast<unsigned long long>(s.events), s.threads);
  return 0;
}

int TraceCommands::convert() {
  Trace trace;
  Loaded loaded;
  const TraceSummary& s = loaded.summary;
  std::string error;
  if (to_ == "amt") {
    TraceError err;
    if (from_ == "amt") {  // one streaming pass: any length
      TraceReader probe;
      if (!probe.open(in_, &err)) return report(err), 2;
      TraceWriter writer;
      if (!writer.open(out_, probe.info().metadata_json, level_, &err)) return report(err), 2;
      if (!check_amt(in_, &loaded, &writer)) return 2;
      if (!writer.finish(&err)) return report(err), 2;
    } else {
      if (!load_any(in_, from_, &trace, &loaded)) return 2;
      if (!write_trace(trace, out_, &err, level_)) return report(err), 2;
    }
  } else if (to_ == "text" || to_ == "android") {
    if (!load_any(in_, from_, &trace, &loaded)) return 2;
    FILE* f = std::fopen(out_.c_str(), "w");
    if (!f) {
      std::fprintf(stderr, "allocmark: %s: cannot create\n", out_.c_str());
      return 2;
    }
    const bool ok =
        to_ == "text" ? export_text(trace, f, &error) : export_android(trace, f, &error);
    if (std::fclose(f) != 0 || !ok) {
      std::fprintf(stderr, "allocmark: %s: %s\n", out_.c_str(),
                   error.empty() ? "write failed" : error.c_str());
      return 2;
    }
  } else {
    std::fprintf(stderr, "allocmark: --to: unknown format '%s' (known: amt, text, android)\n",
                 to_.c_str());
    return 2;
  }
  std::printf("%s: %llu events, %u threads, peak live %llu bytes\n", out_.c_str(),
              static_cast<unsigned long long>(s.events), s.threads,
              static_cast<unsigned long long>(s.peak_live_bytes));
  return 0;
}

int TraceCommands::gen() {
  const Generator* g = find_generator(gen_name_);
  if (!g) {
    std::fprintf(stderr, "allocmark: unknown workload '%s' (see allocmark list workloads)\n",
                 gen_name_.c_str());
    return 2;
  }
  GeneratorArgs args;
  args.threads = threads_;
  args.seed = seed_;
  for (const auto& p : params_) {
    const size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "allocmark: --param: '%s' should be K=V\n", p.c_str());
      return 2;
    }
    args.values[p.substr(0, eq)] = p.substr(eq + 1);
  }
  std::string error;
  TraceOutput facts;
  if (!generate_trace_file(*g, args, out_, gen_level_, &error, &facts)) {
    std::fprintf(stderr, "allocmark: %s: %s\n", gen_name_.c_str(), error.c_str());
    return 2;
  }
  std::printf("%s: %llu events, %u threads, peak live %llu bytes\n", out_.c_str(),
              static_cast<unsigned long long>(facts.events), facts.threads,
              static_cast<unsigned long long>(facts.peak_live_bytes));
  return 0;
}

}  // namespace allocmark
