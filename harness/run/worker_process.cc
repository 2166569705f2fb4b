// One worker child (base/subprocess.h) with a result pipe (fd 3), a captured stderr, a timeout and
// rlimits, and what its end means.
// Layer: harness (parent side).
#include "harness/run/worker_process.h"

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <cstring>

#include "base/subprocess.h"

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
  ProcessSpec spec;
  spec.argv = req.args;
  spec.argv.insert(spec.argv.begin(), req.executable);
  spec.set_env = req.env;
  spec.unset_env = {"LD_PRELOAD"};  // our own variables are set explicitly; never a stray one
  spec.own_process_group = true;    // a terminal Ctrl-C reaches the parent, which decides
  // A kill -9 of the parent must not leave a worker replaying on (it would skew the cells of the
  // resumed run).
  spec.die_with_parent = true;
  spec.quiet = true;
  spec.null_stdin = true;
  spec.address_space_limit = req.mem_limit_bytes;
  spec.capture = {Capture(3), Capture(2, kStderrKeep)};  // the result line; stderr's tail

  spec.timeout_s = req.timeout_s;
  const ProcessResult p = run_process(spec, &g_current);

  WorkerOutcome out;
  out.elapsed_s = p.elapsed_s;
  if (!p.started) {
    out.status = "error";
    out.detail = p.error;
    return out;
  }
  std::string result = p.output.count(3) ? p.output.at(3) : "";
  out.stderr_tail = last_lines(p.output.count(2) ? p.output.at(2) : "", 5);
  while (!result.empty() && (result.back() == '\n' || result.back() == '\r')) result.pop_back();
  const int wstatus = p.wait_status;
  if (p.timed_out) {
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
