// fork/exec of a worker with a result pipe (fd 3), a captured stderr, a timeout and rlimits.
// Layer: harness (parent side).
#include "harness/run/worker_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>

extern char** environ;

namespace allocmark {
namespace {

std::atomic<pid_t> g_current{0};
constexpr size_t kStderrKeep = 4096;  // bytes of stderr kept for the detail

std::string last_lines(const std::string& text, int lines) {
  size_t end = text.size();
  while (end && text[end - 1] == '\n') --end;
  size_t pos = end;
  for (int n = 0; n < lines && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) {
      pos = 0;
      break;
    }
  }
  std::string out = text.substr(pos == 0 ? 0 : pos + 1, end - (pos == 0 ? 0 : pos + 1));
  for (char& c : out)
    if (c == '\n') c = '|';
  return out;
}

}  // namespace

void kill_current_worker() noexcept {
  const pid_t pid = g_current.load();
  if (pid > 0) kill(-pid, SIGKILL);
}

WorkerOutcome run_worker(const WorkerRequest& req) {
  WorkerOutcome out;
  int result_pipe[2], err_pipe[2];
  if (pipe2(result_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    out.status = "error";
    out.detail = std::string("pipe: ") + strerror(errno);
    return out;
  }
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    // Our own variables for the child are set explicitly; never inherit a stray LD_PRELOAD.
    if (std::strncmp(*e, "LD_PRELOAD=", 11) == 0) continue;
    env_strings.emplace_back(*e);
  }
  for (const auto& e : req.env) env_strings.push_back(e);
  std::vector<char*> envp, argv;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = req.args;
  args.insert(args.begin(), req.executable);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const auto start = std::chrono::steady_clock::now();
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);  // own group: a terminal Ctrl-C reaches the parent, which decides
    // A kill -9 of the parent must not leave a worker replaying on (it would skew the cells of
    // the resumed run). The signal follows the forking thread, which lives as long as this
    // call; the getppid check closes the race with a parent that died before prctl.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(result_pipe[1], 3);
    dup2(err_pipe[1], 2);
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    if (req.mem_limit_bytes) {
      rlimit rl{req.mem_limit_bytes, req.mem_limit_bytes};
      setrlimit(RLIMIT_AS, &rl);
    }
    execve(req.executable.c_str(), argv.data(), envp.data());
    dprintf(2, "cannot execute %s: %s\n", req.executable.c_str(), strerror(errno));
    _exit(127);
  }
  close(result_pipe[1]);
  close(err_pipe[1]);
  if (pid < 0) {
    close(result_pipe[0]);
    close(err_pipe[0]);
    out.status = "error";
    out.detail = std::string("fork: ") + strerror(errno);
    return out;
  }
  setpgid(pid, pid);
  g_current.store(pid);

  std::string result, errors;
  pollfd fds[2] = {{result_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  bool timed_out = false;
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double left = req.timeout_s - elapsed;
    if (left <= 0) {
      timed_out = true;
      kill(-pid, SIGKILL);
      break;
    }
    const int ready = poll(fds, 2, static_cast<int>(std::min(left * 1000 + 1, 1000.0)));
    if (ready < 0 && errno != EINTR) break;
    for (auto& f : fds) {
      if (f.fd < 0 || !(f.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = read(f.fd, buf, sizeof buf);
      if (n <= 0) {
        close(f.fd);
        f.fd = -1;
        --open_fds;
        continue;
      }
      std::string& dst = (f.fd == result_pipe[0]) ? result : errors;
      dst.append(buf, static_cast<size_t>(n));
      if (&dst == &errors && errors.size() > 2 * kStderrKeep)
        errors.erase(0, errors.size() - kStderrKeep);
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  g_current.store(0);
  out.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.stderr_tail = last_lines(errors, 5);

  while (!result.empty() && (result.back() == '\n' || result.back() == '\r')) result.pop_back();
  if (timed_out) {
    out.status = "timeout";
    out.detail = "no result after " + std::to_string(static_cast<int>(req.timeout_s)) + " s";
  } else if (WIFSIGNALED(wstatus)) {
    const int sig = WTERMSIG(wstatus);
    out.status = "crashed";
    out.detail = std::string("signal ") + std::to_string(sig) + " (" + sigabbrev_np(sig) + ")";
  } else if (WEXITSTATUS(wstatus) != 0 || result.empty()) {
    out.status = "error";
    out.detail = "worker exited with status " + std::to_string(WEXITSTATUS(wstatus)) +
                 (result.empty() ? " without a result" : "");
  } else {
    out.result_json = result;
    out.status = "ok";  // the caller reads the worker's own status from the JSON
  }
  if (out.status != "ok" && !out.stderr_tail.empty()) out.detail += "; stderr: " + out.stderr_tail;
  return out;
}

}  // namespace allocmark
