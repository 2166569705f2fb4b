// The generator registry, typed parameter parsing and generate_trace (checks, provenance).
// Layer: workloads. The generators themselves live one per file in workloads/generators/.
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "workloads/generator.h"
#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark {

// Explicit list rather than static self-registration: static initialisers in a static library
// are dropped by the linker unless referenced, and the order here is the order users see.
const std::vector<Generator>& generators() {
  static const std::vector<Generator> kAll = [] {
    using namespace gen;
    return std::vector<Generator>{
        alloc_only_generator(),
        churn_generator(),
        phase_reset_generator(),
        larson_generator(),
        xmalloc_generator(),
        mstress_generator(),
        alloc_test_generator(),
        glibc_simple_generator(),
        glibc_thread_generator(),
        lifo_free_generator(),
        cache_thrash_generator(),
        cache_scratch_generator(),
        large_buffers_generator(),
        realloc_growth_generator(),
        frag_checkerboard_generator(),
        frag_sawtooth_generator(),
        short_lived_threads_generator(),
        fleet_generator(),
    };
  }();
  return kAll;
}

const Generator* find_generator(std::string_view name) {
  for (const Generator& g : generators())
    if (g.name == name) return &g;
  return nullptr;
}

std::string ParamReader::text(std::string_view name) {
  if (auto it = args_.values.find(std::string(name)); it != args_.values.end()) return it->second;
  for (const GeneratorParam& p : params_)
    if (p.name == name) return p.default_value;
  // A generator asked for a parameter it does not declare: a bug, but report it, not crash.
  if (error_.empty()) error_ = "param '" + std::string(name) + "' is not declared";
  return "0";
}

uint64_t ParamReader::u64(std::string_view name) {
  const std::string s = text(name);
  uint64_t v = 0;
  if (const char* expected = parse_size_text(s, &v)) {
    if (error_.empty())
      error_ = "param '" + std::string(name) + "': expected " + expected + ", got '" + s + "'";
    return 0;
  }
  return v;
}

double ParamReader::real(std::string_view name) {
  const std::string s = text(name);
  char* end = nullptr;
  errno = 0;
  const double v = s.empty() ? 0.0 : std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v)) {
    if (error_.empty())
      error_ = "param '" + std::string(name) + "': expected a number, got '" + s + "'";
    return 0.0;
  }
  return v;
}

namespace {

// Parameter names and thread count against the generator; "" when they are fine.
std::string check_args(const Generator& gen, const GeneratorArgs& args) {
  for (const auto& [name, value] : args.values) {
    bool known = false;
    for (const GeneratorParam& p : gen.params) known = known || p.name == name;
    if (!known) {
      std::string list;
      for (const GeneratorParam& p : gen.params) list += (list.empty() ? "" : ", ") + p.name;
      return "unknown param '" + name + "' (known: " + (list.empty() ? "none" : list) + ")";
    }
  }
  if (args.threads == 0) return "threads must be at least 1";
  if (args.threads > gen::kMaxThreads)
    return "threads must be at most " + std::to_string(gen::kMaxThreads) + ", got " +
           std::to_string(args.threads);
  if (!gen.multi_threaded && args.threads > 1)
    return "is single-threaded, so threads must be 1 (got " + std::to_string(args.threads) + ")";
  return "";
}

// Effective values (defaults included), as text, so the metadata alone reproduces the trace.
std::string provenance_json(const Generator& gen, const GeneratorArgs& args) {
  nlohmann::ordered_json params = nlohmann::ordered_json::object();
  for (const GeneratorParam& p : gen.params) {
    auto it = args.values.find(p.name);
    params[p.name] = it != args.values.end() ? it->second : p.default_value;
  }
  nlohmann::ordered_json meta = {{"source", "generator"},
                                 {"generator", gen.name},
                                 {"params", params},
                                 {"threads", args.threads},
                                 {"seed", args.seed}};
  return meta.dump();
}

// Checks the arguments and runs the generator into *out; false with *error (prefixed).
bool run_generator(const Generator& gen, const GeneratorArgs& args, TraceOutput* out,
                   std::string* error) {
  std::string why = check_args(gen, args);
  ParamReader reader(gen.params, args);
  if (why.empty() && !gen.generate(args, reader, out, &why) && why.empty()) why = "failed";
  if (why.empty()) why = reader.error();
  if (why.empty()) return true;
  *error = "generator '" + gen.name + "': " + why;
  return false;
}

}  // namespace

bool generate_trace(const Generator& gen, const GeneratorArgs& args, Trace* trace,
                    std::string* error) {
  Trace built;
  TraceOutput out{&built, nullptr};
  if (!run_generator(gen, args, &out, error)) return false;
  built.metadata_json = provenance_json(gen, args);
  *trace = std::move(built);
  return true;
}

bool generate_trace_file(const Generator& gen, const GeneratorArgs& args, const std::string& path,
                         int level, std::string* error, TraceOutput* facts) {
  if (std::string why = check_args(gen, args); !why.empty())
    return *error = "generator '" + gen.name + "': " + why, false;
  TraceWriter writer;
  TraceError te;
  if (!writer.open(path, provenance_json(gen, args), level, &te))
    return *error = te.message(), false;
  TraceOutput out{nullptr, &writer};
  if (!run_generator(gen, args, &out, error)) return false;  // the writer removes its file
  if (!writer.finish(&te)) return *error = te.message(), false;
  if (facts) *facts = out;
  return true;
}

}  // namespace allocmark
