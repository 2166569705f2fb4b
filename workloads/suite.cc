// Suite files: TOML -> list of workloads, checked against the generator registry so that a typo
// fails at load time with its line, not minutes into a run. Layer: workloads.
#include "workloads/suite.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "workloads/suite_program.h"

namespace allocmark {
namespace {

constexpr uint32_t kMaxSuiteThreads = 1024;  // as generate_trace: each becomes an OS thread

class Loader {
 public:
  Loader(const std::string& path, Suite* suite, std::string* error)
      : path_(path), suite_(suite), error_(error) {}

  bool run(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, path_);
    } catch (const toml::parse_error& e) {
      return fail(e.source(), std::string(e.description()));
    }
    suite_->path = path_;
    suite_->name = std::filesystem::path(path_).stem().string();
    for (auto&& [key, node] : root) {
      const std::string k(key.str());
      if (k == "name" || k == "description") {
        const auto* s = node.as_string();
        if (!s) return fail(node.source(), "'" + k + "' must be a string");
        (k == "name" ? suite_->name : suite_->description) = s->get();
      } else if (k == "defaults") {
        if (!node.is_table()) return fail(node.source(), "'defaults' must be a table");
      } else if (k == "workload" || k == "program") {
        if (!node.is_array_of_tables())
          return fail(node.source(), "'" + k + "' must be an array of tables ([[" + k + "]])");
      } else {
        return fail(key.source(), "unknown key '" + k +
                                      "' (expected name, description, defaults, [[workload]], "
                                      "[[program]])");
      }
    }
    if (const toml::table* d = root["defaults"].as_table()) {
      for (auto&& [key, node] : *d) {
        const std::string k(key.str());
        if (k == "threads") {
          if (!read_threads(node, &default_threads_, nullptr)) return false;
        } else if (k == "seed") {
          if (!read_seed(node, &default_seed_)) return false;
        } else {
          return fail(key.source(),
                      "unknown key '" + k + "' in [defaults] (expected threads, seed)");
        }
      }
    }
    const toml::array* list = root["workload"].as_array();
    const toml::array* programs = root["program"].as_array();
    if ((!list || list->empty()) && (!programs || programs->empty()))
      return fail(root.source(), "a suite needs at least one [[workload]] or [[program]]");
    if (list)
      for (const toml::node& n : *list)
        if (!read_workload(*n.as_table())) return false;
    if (programs)
      for (const toml::node& n : *programs)
        if (!read_program(*n.as_table())) return false;
    return true;
  }

 private:
  bool fail(const toml::source_region& where, const std::string& what) {
    *error_ = path_ + ":" + std::to_string(where.begin.line) + ":" +
              std::to_string(where.begin.column) + ": " + what;
    return false;
  }

  bool read_seed(const toml::node& node, uint64_t* seed) {
    const auto* i = node.as_integer();
    if (!i || i->get() < 0) return fail(node.source(), "'seed' must be a non-negative integer");
    *seed = static_cast<uint64_t>(i->get());
    return true;
  }

  // `threads` is an integer or an array of integers in [1, 1024], without repeats.
  bool read_threads(const toml::node& node, std::vector<uint32_t>* out, const Generator* gen) {
    out->clear();
    auto one = [&](const toml::node& n) {
      const auto* i = n.as_integer();
      if (!i || i->get() < 1 || i->get() > kMaxSuiteThreads)
        return fail(n.source(),
                    "thread counts must be integers from 1 to " + std::to_string(kMaxSuiteThreads));
      const uint32_t t = static_cast<uint32_t>(i->get());
      if (std::find(out->begin(), out->end(), t) != out->end())
        return fail(n.source(), "thread count " + std::to_string(t) + " is listed twice");
      if (gen && !gen->multi_threaded && t > 1)
        return fail(n.source(), "generator '" + gen->name +
                                    "' is single-threaded, so threads must be 1 (got " +
                                    std::to_string(t) + ")");
      out->push_back(t);
      return true;
    };
    if (const toml::array* a = node.as_array()) {
      if (a->empty()) return fail(node.source(), "'threads' must not be empty");
      for (const toml::node& n : *a)
        if (!one(n)) return false;
      return true;
    }
    if (node.is_integer()) return one(node);
    return fail(node.source(), "'threads' must be an integer or an array of integers");
  }

  bool read_workload(const toml::table& t) {
    SuiteWorkload w;
    w.line = static_cast<uint32_t>(t.source().begin.line);
    w.seed = default_seed_;
    const toml::node* gen_node = t.get("generator");
    if (!gen_node) return fail(t.source(), "[[workload]] needs generator = \"NAME\"");
    const auto* gen_name = gen_node->as_string();
    if (!gen_name) return fail(gen_node->source(), "'generator' must be a string");
    const Generator* gen = find_generator(gen_name->get());
    if (!gen) {
      std::string known;
      for (const Generator& g : generators()) known += (known.empty() ? "" : ", ") + g.name;
      return fail(gen_node->source(),
                  "unknown generator '" + gen_name->get() + "' (known: " + known + ")");
    }
    w.generator = gen->name;
    w.name = gen->name;
    bool threads_set = false;
    for (auto&& [key, node] : t) {
      const std::string k(key.str());
      if (k == "generator") continue;
      if (k == "name") {
        const auto* s = node.as_string();
        if (!s || s->get().empty()) return fail(node.source(), "'name' must be a non-empty string");
        w.name = s->get();
      } else if (k == "threads") {
        if (!read_threads(node, &w.threads, gen)) return false;
        threads_set = true;
      } else if (k == "seed") {
        if (!read_seed(node, &w.seed)) return false;
      } else if (k == "params") {
        const toml::table* p = node.as_table();
        if (!p)
          return fail(node.source(), "'params' must be a table, e.g. params = { steps = 1000 }");
        if (!read_params(*p, *gen, &w.params)) return false;
      } else {
        return fail(key.source(), "unknown key '" + k +
                                      "' in [[workload]] (expected name, generator, threads, seed, "
                                      "params)");
      }
    }
    if (!threads_set) {
      for (uint32_t n : default_threads_)
        if (gen->multi_threaded || n == 1) w.threads.push_back(n);
      if (w.threads.empty()) w.threads.push_back(1);  // single-threaded under multi defaults
    }
    if (name_line(w.name))
      return fail(t.source(), "workload name '" + w.name + "' is already used on line " +
                                  std::to_string(name_line(w.name)) +
                                  "; give one a name = \"...\"");
    suite_->workloads.push_back(std::move(w));
    return true;
  }

  bool read_program(const toml::table& t) {
    ProgramSpec p;
    if (!read_program_table(t, path_, &p, error_)) return false;
    if (name_line(p.name))
      return fail(t.source(), "workload name '" + p.name + "' is already used on line " +
                                  std::to_string(name_line(p.name)) + "; names are unique");
    suite_->programs.push_back(std::move(p));
    return true;
  }

  // The line of the workload or program called `name`, 0 when there is none.
  uint32_t name_line(const std::string& name) const {
    for (const SuiteWorkload& w : suite_->workloads)
      if (w.name == name) return w.line;
    for (const ProgramSpec& p : suite_->programs)
      if (p.name == name) return p.line;
    return 0;
  }

  // Values become the text `--param K=V` would carry: integers and strings ("64K") as written,
  // floats in shortest round-trip form, booleans as 1/0. Names are checked here, values by the
  // generator when it runs (only it knows whether a value is a size or a ratio).
  bool read_params(const toml::table& p, const Generator& gen,
                   std::map<std::string, std::string>* out) {
    for (auto&& [key, node] : p) {
      const std::string k(key.str());
      if (std::none_of(gen.params.begin(), gen.params.end(),
                       [&](const GeneratorParam& gp) { return gp.name == k; })) {
        std::string known;
        for (const GeneratorParam& gp : gen.params) known += (known.empty() ? "" : ", ") + gp.name;
        return fail(key.source(), "generator '" + gen.name + "' has no param '" + k +
                                      "' (known: " + (known.empty() ? "none" : known) + ")");
      }
      std::string v;
      if (const auto* i = node.as_integer()) {
        if (i->get() < 0) return fail(node.source(), "param '" + k + "' must not be negative");
        v = std::to_string(i->get());
      } else if (const auto* s = node.as_string()) {
        v = s->get();
      } else if (const auto* f = node.as_floating_point()) {
        char buf[64];
        auto r = std::to_chars(buf, buf + sizeof buf, f->get());
        v.assign(buf, r.ptr);
      } else if (const auto* b = node.as_boolean()) {
        v = b->get() ? "1" : "0";
      } else {
        return fail(node.source(), "param '" + k + "' must be a number, string or boolean");
      }
      (*out)[k] = std::move(v);
    }
    return true;
  }

  const std::string& path_;
  Suite* suite_;
  std::string* error_;
  std::vector<uint32_t> default_threads_{1};
  uint64_t default_seed_ = 42;
};

}  // namespace

bool parse_suite(std::string_view text, const std::string& path, Suite* suite, std::string* error) {
  Suite s;
  if (!Loader(path, &s, error).run(text)) return false;
  *suite = std::move(s);
  return true;
}

bool load_suite(const std::string& path, Suite* suite, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": cannot open suite file";
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    *error = path + ": read error";
    return false;
  }
  return parse_suite(text.str(), path, suite, error);
}

namespace {
std::string& default_suites_dir() {
  static std::string dir;
  return dir;
}
}  // namespace

void set_suites_dir(std::string dir) { default_suites_dir() = std::move(dir); }

std::string suites_dir() {
  if (const char* env = std::getenv("ALLOCMARK_SUITES_DIR"); env && *env) return env;
  return default_suites_dir();
}

std::string find_suite_file(std::string_view name_or_path, std::string* error) {
  namespace fs = std::filesystem;
  const std::string given(name_or_path);
  std::error_code ec;
  if (!given.empty() && fs::is_regular_file(given, ec)) return given;
  const bool looks_like_path =
      given.find('/') != std::string::npos || (given.size() > 5 && given.ends_with(".toml"));
  if (given.empty() || looks_like_path) {
    *error = "suite '" + given + "': no such file";
    return "";
  }
  const std::string dir = suites_dir();
  const fs::path candidate = fs::path(dir) / (given + ".toml");
  if (fs::is_regular_file(candidate, ec)) return candidate.string();
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().extension() == ".toml") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  std::string known;
  for (const std::string& n : names) known += (known.empty() ? "" : ", ") + n;
  *error = "suite '" + given + "': not a file, and no " + given + ".toml in " + dir +
           " (available: " + (known.empty() ? "none" : known) + ")";
  return "";
}

}  // namespace allocmark
