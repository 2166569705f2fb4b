// [[program]] tables (workloads/suite_program.h). Format: workloads/README.md "Program tables".
// Layer: workloads.
#include "workloads/suite_program.h"

#include <filesystem>
#include <regex>

namespace allocmark {
namespace {

constexpr const char* kKnownKeys =
    "name, description, command, driver, stdin, cwd, env, setup, teardown, expect_exit, "
    "check_output, throughput, timeout, multi_threaded";

class ProgramReader {
 public:
  ProgramReader(const std::string& path, ProgramSpec* out, std::string* error)
      : path_(path), p_(out), error_(error) {}

  bool read(const toml::table& t) {
    p_->line = static_cast<uint32_t>(t.source().begin.line);
    p_->suite_dir = std::filesystem::path(path_).parent_path().string();
    if (p_->suite_dir.empty()) p_->suite_dir = ".";
    for (auto&& [key, node] : t)
      if (!read_key(std::string(key.str()), key.source(), node)) return false;
    if (p_->name.empty()) return fail(t.source(), "[[program]] needs name = \"...\"");
    if (p_->command.empty())
      return fail(t.source(), "[[program]] '" + p_->name + "' needs command = [\"program\", ...]");
    if (!p_->driver.empty() && !program_uses_port(*p_))
      return fail(t.source(), "[[program]] '" + p_->name +
                                  "': a driver needs the server's port: put {port} in command "
                                  "and driver");
    return true;
  }

 private:
  bool fail(const toml::source_region& where, const std::string& what) {
    *error_ = path_ + ":" + std::to_string(where.begin.line) + ":" +
              std::to_string(where.begin.column) + ": " + what;
    return false;
  }

  bool words(const toml::node& node, const std::string& key, std::vector<std::string>* out) {
    const toml::array* a = node.as_array();
    if (!a || a->empty())
      return fail(node.source(), "'" + key + "' must be a non-empty array of strings");
    for (const toml::node& w : *a) {
      const auto* s = w.as_string();
      if (!s) return fail(w.source(), "'" + key + "' must hold strings only");
      out->push_back(s->get());
    }
    return true;
  }

  bool commands(const toml::node& node, const std::string& key,
                std::vector<std::vector<std::string>>* out) {
    const toml::array* a = node.as_array();
    if (!a || !a->is_array_of_tables()) {
      if (a)
        for (const toml::node& c : *a) {
          out->emplace_back();
          if (!words(c, key, &out->back())) return false;
        }
      if (a) return true;
    }
    return fail(node.source(),
                "'" + key + "' must be an array of commands, e.g. [[\"python3\", \"gen.py\"]]");
  }

  bool text(const toml::node& node, const std::string& key, std::string* out) {
    const auto* s = node.as_string();
    if (!s) return fail(node.source(), "'" + key + "' must be a string");
    *out = s->get();
    return true;
  }

  bool flag(const toml::node& node, const std::string& key, bool* out) {
    const auto* b = node.as_boolean();
    if (!b) return fail(node.source(), "'" + key + "' must be true or false");
    *out = b->get();
    return true;
  }

  bool env(const toml::node& node) {
    const toml::table* t = node.as_table();
    if (!t) return fail(node.source(), "'env' must be a table, e.g. env = { LC_ALL = \"C\" }");
    for (auto&& [k, v] : *t) {
      const auto* s = v.as_string();
      if (!s) return fail(v.source(), "env '" + std::string(k.str()) + "' must be a string");
      p_->env.emplace_back(std::string(k.str()), s->get());
    }
    return true;
  }

  bool throughput(const toml::node& node) {
    const toml::table* t = node.as_table();
    const auto* re = t ? t->get_as<std::string>("regex") : nullptr;
    if (!re)
      return fail(node.source(),
                  "'throughput' must be a table { regex = \"([0-9.]+) ops/s\", unit = \"ops/s\" }");
    for (auto&& [k, v] : *t)
      if (k.str() != "regex" && k.str() != "unit")
        return fail(k.source(), "unknown key '" + std::string(k.str()) +
                                    "' in throughput (expected regex, unit)");
    try {
      const std::regex compiled(re->get());
      if (compiled.mark_count() < 1)
        return fail(re->source(), "throughput regex needs a capture group: (the number)");
    } catch (const std::regex_error& e) {
      return fail(re->source(), std::string("throughput regex does not compile: ") + e.what());
    }
    p_->throughput_regex = re->get();
    p_->throughput_unit = t->get_as<std::string>("unit") ? **t->get_as<std::string>("unit") : "";
    return true;
  }

  bool read_key(const std::string& k, const toml::source_region& where, const toml::node& node) {
    if (k == "name") {
      if (!text(node, k, &p_->name)) return false;
      if (p_->name.empty() || p_->name.find_first_of("/ \t\n") != std::string::npos)
        return fail(node.source(), "'name' must be a non-empty word without '/' or spaces");
      return true;
    }
    if (k == "description") return text(node, k, &p_->description);
    if (k == "command") return words(node, k, &p_->command);
    if (k == "driver") return words(node, k, &p_->driver);
    if (k == "stdin") return text(node, k, &p_->stdin_file);
    if (k == "cwd") return text(node, k, &p_->cwd);
    if (k == "env") return env(node);
    if (k == "setup") return commands(node, k, &p_->setup);
    if (k == "teardown") return commands(node, k, &p_->teardown);
    if (k == "check_output") return flag(node, k, &p_->check_output);
    if (k == "multi_threaded") return flag(node, k, &p_->multi_threaded);
    if (k == "throughput") return throughput(node);
    if (k == "expect_exit") {
      const auto* i = node.as_integer();
      if (!i || i->get() < 0 || i->get() > 255)
        return fail(node.source(), "'expect_exit' must be an integer from 0 to 255");
      p_->expect_exit = static_cast<int>(i->get());
      return true;
    }
    if (k == "timeout") {
      const auto v = node.value<double>();
      if (!v || *v <= 0)
        return fail(node.source(), "'timeout' must be a positive number of seconds");
      p_->timeout_s = *v;
      return true;
    }
    return fail(where, "unknown key '" + k + "' in [[program]] (expected " + kKnownKeys + ")");
  }

  const std::string& path_;
  ProgramSpec* p_;
  std::string* error_;
};

}  // namespace

bool read_program_table(const toml::table& table, const std::string& path, ProgramSpec* out,
                        std::string* error) {
  ProgramSpec p;
  if (!ProgramReader(path, &p, error).read(table)) return false;
  *out = std::move(p);
  return true;
}

}  // namespace allocmark
