// A program cell's repetition (harness/program/program_cell.h). Layer: harness (program).
// Cost besides the program: one fork + exec, the RSS sampler thread (tree_sampler.h), the
// witness library's constructor in each process, and reading the output back once to check it.
#include "harness/program/program_cell.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "base/subprocess.h"
#include "harness/program/tree_sampler.h"

namespace allocmark {
namespace {

using nlohmann::json;

std::atomic<pid_t> g_program{0};  // the program (or server) running now
std::atomic<pid_t> g_driver{0};   // a service's driver running now

constexpr size_t kStderrTail = 16 * 1024;
constexpr size_t kThroughputScan = 64u << 20;  // bytes of output searched for the figure

int64_t ns_of(const timeval& tv) {
  return static_cast<int64_t>(tv.tv_sec) * 1'000'000'000 + static_cast<int64_t>(tv.tv_usec) * 1000;
}

std::string read_file(const std::string& path, size_t limit = std::string::npos) {
  std::ifstream f(path, std::ios::binary);
  std::string s;
  if (!f) return s;
  std::ostringstream o;
  o << f.rdbuf();
  s = o.str();
  if (s.size() > limit) s.resize(limit);
  return s;
}

// The last line that says something, for a one-line detail.
std::string last_line(const std::string& text) {
  size_t end = text.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return {};
  const size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end + 1 - (start == std::string::npos ? 0 : start + 1));
}

std::vector<std::string> expanded(const std::vector<std::string>& words, const ProgramRun& run,
                                  int port) {
  std::vector<std::string> out;
  for (const auto& w : words)
    out.push_back(expand_placeholders(w, run.dir, run.spec->suite_dir, port));
  return out;
}

std::string joined(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
  return s;
}

// The program's process: preloaded allocator and witness, its own group, dies with us.
ProcessSpec program_process(const ProgramRun& run, int port) {
  const ProgramSpec& p = *run.spec;
  ProcessSpec spec;
  spec.argv = expanded(p.command, run, port);
  spec.cwd = p.cwd.empty() ? run.dir : expand_placeholders(p.cwd, run.dir, p.suite_dir, port);
  for (const auto& [k, v] : p.env)
    spec.set_env.push_back(k + "=" + expand_placeholders(v, run.dir, p.suite_dir, port));
  spec.set_env.insert(spec.set_env.end(), run.env.begin(), run.env.end());
  std::string preload = run.preload;
  if (!run.witness_library.empty()) preload += (preload.empty() ? "" : ":") + run.witness_library;
  if (!preload.empty())
    spec.set_env.push_back("LD_PRELOAD=" + preload);
  else
    spec.unset_env.push_back("LD_PRELOAD");
  if (!run.witness_path.empty())
    spec.set_env.push_back("ALLOCMARK_WITNESS_FILE=" + run.witness_path);
  if (!p.stdin_file.empty())
    spec.stdin_path =
        spec.cwd + "/" + expand_placeholders(p.stdin_file, run.dir, p.suite_dir, port);
  else
    spec.null_stdin = true;
  spec.stdout_path = run.output_path;
  spec.capture = {Capture(2, kStderrTail)};
  spec.own_process_group = true;
  spec.die_with_parent = true;
  spec.address_space_limit = run.mem_limit_bytes;
  spec.timeout_s = p.timeout_s > 0 ? p.timeout_s : run.timeout_s;
  return spec;
}

struct WitnessLine {
  pid_t pid = 0, parent = 0;
  std::string exe, provider;
};

std::vector<WitnessLine> read_witness(const std::string& path) {
  std::vector<WitnessLine> lines;
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line)) {
    WitnessLine w;
    std::istringstream fields(line);
    std::string pid, parent;
    if (std::getline(fields, pid, '\t') && std::getline(fields, parent, '\t') &&
        std::getline(fields, w.exe, '\t') && std::getline(fields, w.provider)) {
      w.pid = static_cast<pid_t>(std::atol(pid.c_str()));
      w.parent = static_cast<pid_t>(std::atol(parent.c_str()));
      lines.push_back(std::move(w));
    }
  }
  return lines;
}

std::string file_name(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The file behind a path, symbolic links resolved (libjemalloc.so -> libjemalloc.so.2).
std::string real_file(const std::string& path) {
  std::error_code ec;
  const auto p = std::filesystem::canonical(path, ec);
  return ec ? path : p.string();
}

// Whether the allocator served malloc in the program and every child that reported; "" when so,
// else why not. Fills malloc_provider and processes.
std::string check_loaded(const ProgramRun& run, pid_t root, json* line) {
  if (run.witness_library.empty()) return {};
  const auto lines = read_witness(run.witness_path);
  (*line)["processes"] = lines.size();
  const WitnessLine* root_line = nullptr;
  for (const auto& w : lines)
    if (w.pid == root) root_line = &w;  // the last: after an exec in place, the final program
  const std::string expected = run.preload.empty() ? "" : real_file(run.preload);
  if (!root_line) {
    (*line)["malloc_provider"] = "unknown";
    if (run.is_glibc) return {};  // a static program links its own (glibc's) malloc
    return "the allocator was not loaded: the program reported nothing (a static or setuid "
           "program ignores LD_PRELOAD)";
  }
  (*line)["malloc_provider"] = root_line->provider;
  for (const auto& w : lines) {
    const std::string served_by = real_file(w.provider);
    const bool ok =
        expected.empty() ? file_name(served_by).rfind("libc.so", 0) == 0 : served_by == expected;
    if (!ok)
      return "malloc in process " + std::to_string(w.pid) + " (" + w.exe + ") is served by " +
             w.provider + ", not " + (expected.empty() ? "glibc" : run.preload);
  }
  return {};
}

// "" when the output equals the reference, else where it first differs.
std::string compare_output(const ProgramRun& run) {
  if (!run.spec->check_output || run.is_reference) return {};
  if (run.reference_output.empty())
    return "no reference output to check against: " + run.reference_error;
  const std::string want = read_file(run.reference_output), got = read_file(run.output_path);
  if (want == got) return {};
  size_t at = 0;
  while (at < want.size() && at < got.size() && want[at] == got[at]) ++at;
  const size_t line = 1 + static_cast<size_t>(std::count(got.begin(), got.begin() + at, '\n'));
  return "stdout differs from glibc's at byte " + std::to_string(at) + " (line " +
         std::to_string(line) + "; " + std::to_string(got.size()) + " bytes against " +
         std::to_string(want.size()) + ")";
}

// The throughput figure from the output; false when the pattern is not there.
bool extract_throughput(const ProgramRun& run, const std::string& output, json* line) {
  const ProgramSpec& p = *run.spec;
  if (p.throughput_regex.empty()) return true;
  std::smatch m;
  const std::regex re(p.throughput_regex);
  if (!std::regex_search(output, m, re) || m.size() < 2) return false;
  char* end = nullptr;
  const std::string number = m[1].str();
  const double v = std::strtod(number.c_str(), &end);
  if (end == number.c_str()) return false;
  (*line)["throughput"] = v;
  (*line)["throughput_unit"] = p.throughput_unit;
  return true;
}

std::string signal_text(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return "signal " + std::to_string(sig) + (abbrev ? std::string(" (SIG") + abbrev + ")" : "");
}

// The resources of the program process (and the children it waited for), and its memory curve.
void resource_fields(const ProcessResult& r, const TreeSampler& sampler, json* line) {
  const rusage& u = r.usage;
  (*line)["user_ns"] = ns_of(u.ru_utime);
  (*line)["sys_ns"] = ns_of(u.ru_stime);
  (*line)["minor_faults"] = u.ru_minflt;
  (*line)["major_faults"] = u.ru_majflt;
  (*line)["voluntary_switches"] = u.ru_nvcsw;
  (*line)["involuntary_switches"] = u.ru_nivcsw;
  // Sampling misses short peaks; the kernel's high-water mark of the largest process does not.
  const uint64_t hwm = static_cast<uint64_t>(u.ru_maxrss) * 1024;
  (*line)["peak_rss_bytes"] = std::max(sampler.peak_rss_bytes(), hwm);
  (*line)["peak_rss_source"] = sampler.peak_rss_bytes() >= hwm ? "samples" : "maxrss";
  (*line)["baseline_rss_bytes"] = 0;
  (*line)["final_rss_bytes"] = sampler.rss().empty() ? 0 : sampler.rss().back();
  (*line)["rss_samples"] = sampler.samples();
  (*line)["sampler_cpu_ns"] = sampler.cpu_ns();
  (*line)["timeline"] = {{"t_ns", sampler.t_ns()}, {"rss", sampler.rss()}};
}

// How the program ended, as a status; true when it ended as expected.
bool judge_exit(const ProcessResult& r, const ProcessSpec& spec, int expect_exit,
                bool stopped_by_us, json* line) {
  const std::string stderr_text = r.output.count(2) ? r.output.at(2) : "";
  if (!r.started) {
    (*line)["status"] = "error";
    (*line)["detail"] = r.error;
    return false;
  }
  (*line)["exit_code"] = exit_code(r.wait_status);
  if (r.timed_out) {
    (*line)["status"] = "timeout";
    (*line)["detail"] = "killed after " + std::to_string(static_cast<int>(spec.timeout_s)) +
                        " s (--timeout, or the program's timeout)";
  } else if (WIFSIGNALED(r.wait_status) &&
             !(stopped_by_us &&
               (WTERMSIG(r.wait_status) == SIGTERM || WTERMSIG(r.wait_status) == SIGKILL))) {
    (*line)["status"] = "crashed";
    (*line)["detail"] = signal_text(WTERMSIG(r.wait_status));
  } else if (!stopped_by_us && exit_code(r.wait_status) != expect_exit) {
    (*line)["status"] = "failed";
    (*line)["detail"] = "exited " + std::to_string(exit_code(r.wait_status)) + " (expected " +
                        std::to_string(expect_exit) + ")";
  } else {
    return true;
  }
  const std::string tail = last_line(stderr_text);
  if (!tail.empty()) (*line)["detail"] = (*line)["detail"].get<std::string>() + "; stderr: " + tail;
  if (!stderr_text.empty()) (*line)["stderr"] = stderr_text;
  return false;
}

// Waits until 127.0.0.1:port accepts a connection, the server is gone, or the deadline passes.
bool wait_for_port(int port, const std::atomic<bool>& server_done, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  while (!server_done.load() && std::chrono::steady_clock::now() < deadline) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool up = fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    if (fd >= 0) close(fd);
    if (up) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// After the run: the allocator check, the output check, the throughput figure, in that order of
// precedence (a program that did not load the allocator measured something else entirely).
void judge_output(const ProgramRun& run, pid_t root, const std::string& output, json* line) {
  if (const std::string why = check_loaded(run, root, line); !why.empty()) {
    (*line)["status"] = "not_loaded";
    (*line)["detail"] = why;
  } else if (const std::string diff = compare_output(run); !diff.empty()) {
    (*line)["status"] = "wrong_output";
    (*line)["detail"] = diff;
  } else if (!extract_throughput(run, output, line)) {
    (*line)["status"] = "wrong_output";
    (*line)["detail"] =
        "no throughput figure: the output has no match for /" + run.spec->throughput_regex + "/";
  } else {
    (*line)["status"] = "ok";
  }
}

json run_plain(const ProgramRun& run) {
  const ProcessSpec spec =
      program_process(run, program_uses_port(*run.spec) ? free_loopback_port() : 0);
  json line = {{"command", joined(spec.argv)}};
  TreeSampler sampler(&g_program, run.sample_interval_s);
  const ProcessResult r = run_process(spec, &g_program);
  sampler.stop();
  line["wall_ns"] = static_cast<int64_t>(r.elapsed_s * 1e9);
  resource_fields(r, sampler, &line);
  if (!judge_exit(r, spec, run.spec->expect_exit, false, &line)) return line;
  const std::string output = read_file(run.output_path, kThroughputScan) + "\n" +
                             (r.output.count(2) ? r.output.at(2) : "");
  judge_output(run, r.pid, output, &line);
  return line;
}

// SIGTERM to the server's group once, SIGKILL when it is still there after 5 s.
void stop_server(const std::atomic<bool>& server_done) {
  const pid_t pid = g_program.load();
  if (pid <= 0 || server_done.load()) return;
  kill(-pid, SIGTERM);
  for (int i = 0; i < 500 && !server_done.load(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!server_done.load()) kill(-pid, SIGKILL);
}

// Service form: the server preloaded and sampled, the driver run against it, the server stopped.
json run_service(const ProgramRun& run) {
  const int port = free_loopback_port();
  const ProcessSpec server = program_process(run, port);
  ProcessSpec driver;
  driver.argv = expanded(run.spec->driver, run, port);
  driver.cwd = server.cwd;
  driver.null_stdin = true;
  driver.unset_env = {"LD_PRELOAD"};
  driver.capture = {Capture(1, kStderrTail), Capture(2, kStderrTail)};
  driver.own_process_group = true;
  driver.die_with_parent = true;
  driver.timeout_s = server.timeout_s;
  json line = {{"command", joined(server.argv)}, {"driver", joined(driver.argv)}, {"port", port}};

  std::atomic<bool> server_done{false};
  ProcessResult server_result;
  TreeSampler sampler(&g_program, run.sample_interval_s);
  std::thread server_thread([&] {
    server_result = run_process(server, &g_program);
    server_done.store(true);
  });
  const auto started = std::chrono::steady_clock::now();
  ProcessResult driven;
  const bool up = wait_for_port(port, server_done, std::min(30.0, server.timeout_s));
  if (up) {
    const double spent =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    driver.timeout_s = std::max(1.0, server.timeout_s - spent);
    driven = run_process(driver, &g_driver);
  }
  stop_server(server_done);
  server_thread.join();
  sampler.stop();
  line["wall_ns"] = static_cast<int64_t>(driven.elapsed_s * 1e9);
  resource_fields(server_result, sampler, &line);
  if (!judge_exit(server_result, server, run.spec->expect_exit, up, &line)) {
    if (server_result.started && !up && line.value("status", "") != "timeout")
      line["detail"] = "the server ended before it listened on port " + std::to_string(port) +
                       ": " + line.value("detail", "");
    return line;
  }
  if (!up) {
    line["status"] = "timeout";
    line["detail"] = "the server did not listen on 127.0.0.1:" + std::to_string(port);
    return line;
  }
  json driver_line;
  if (!judge_exit(driven, driver, 0, false, &driver_line)) {
    line["status"] = driver_line["status"];
    line["detail"] = "driver: " + driver_line.value("detail", "");
    return line;
  }
  const std::string output = driven.output.count(1) ? driven.output.at(1) : "";
  judge_output(run, server_result.pid,
               output + "\n" + (driven.output.count(2) ? driven.output.at(2) : ""), &line);
  return line;
}

}  // namespace

int free_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

json run_program(const ProgramRun& run) {
  if (!run.witness_path.empty()) std::remove(run.witness_path.c_str());
  json line = run.spec->driver.empty() ? run_plain(run) : run_service(run);
  line["kind"] = "program";
  return line;
}

void kill_current_program() noexcept {
  for (auto* running : {&g_program, &g_driver})
    if (const pid_t pid = running->load(); pid > 0) kill(-pid, SIGKILL);
}

}  // namespace allocmark
