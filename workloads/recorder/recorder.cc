// libamk_record.so: preloaded into any program, records every malloc-family and operator
// new/delete call into per-thread buffers flushed to one raw file per process image.
// Layer: workloads/recorder, a leaf: libc only (no libstdc++ at run time, no exceptions).
//
// Fast path of an allocation (about 15-25 ns on top of the allocator): one acquire load of the
// mode, one TLS load of the recursion guard, the real call, one relaxed fetch_add on the shared
// sequence counter, a 32-byte store into the thread's buffer and a release store of its count
// (a plain mov on x86). No lock: the only shared write is the sequence counter.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>

#include "base/clock.h"
#include "workloads/recorder/raw_format.h"

namespace allocmark::raw {
namespace {

constexpr uint32_t kBufferRecords = 32768;  // 1 MiB per thread: one write(2) per 32 Ki calls
constexpr size_t kBufferBytes = sizeof(BlockHeader) + kBufferRecords * sizeof(RawRecord);
constexpr int kHighFd = 900;               // our raw file's descriptor is at least this
constexpr size_t kBootBytes = 256 * 1024;  // what dlsym and friends allocate before we can forward

// The mode every entry point checks first. kRecording is the only fast state.
enum Mode : int { kUninit = 0, kInitialising = 1, kForward = 2, kRecording = 3 };

// Per-thread state. Lives in static TLS (initial-exec: one %fs-relative load), is trivially
// destructible and constant-initialised, so access needs no TLS wrapper call.
struct ThreadState {
  BlockHeader* block = nullptr;  // mmap'd: header, then kBufferRecords records
  RawRecord* records = nullptr;
  std::atomic<uint32_t> count{0};  // records in the buffer; release-stored for the exit snapshot
  uint32_t limit = 0;              // flush when count reaches it (1 = write every record)
  std::atomic<uint32_t> gen{0};    // bumped at every flush: the exit snapshot's seqlock
  uint32_t serial = 0;
  uint32_t tid = 0;
  bool guard = false;  // set while we run our own code: calls from it go straight to libc
  bool registered = false;
  ThreadState* next = nullptr;  // in g_threads, under g_threads_lock
  ThreadState* prev = nullptr;
  struct {
    BlockHeader header;
    RawRecord record;
  } direct{};  // the one-record buffer used when the thread's own buffer is gone or failed
};

__attribute__((tls_model("initial-exec"))) thread_local ThreadState t_state;

// The real functions (the next definitions after ours: glibc, or an allocator preloaded after us).
struct Real {
  void* (*malloc)(size_t) = nullptr;
  void (*free)(void*) = nullptr;
  void* (*calloc)(size_t, size_t) = nullptr;
  void* (*realloc)(void*, size_t) = nullptr;
  int (*posix_memalign)(void**, size_t, size_t) = nullptr;
  void* (*aligned_alloc)(size_t, size_t) = nullptr;
  void* (*memalign)(size_t, size_t) = nullptr;
  void* (*valloc)(size_t) = nullptr;
  void* (*pvalloc)(size_t) = nullptr;
  size_t (*malloc_usable_size)(void*) = nullptr;
  // operator new [array][aligned][nothrow], used only when an allocation fails (new_handler,
  // bad_alloc) or when we are not recording.
  void* cxx_new[2][2][2] = {};
};

Real g_real;
std::atomic<int> g_mode{kUninit};
int g_fd = -1;
bool g_no_children = false;
size_t g_page = 4096;
char g_dir[3072];
char g_path[sizeof g_dir + 64];  // the raw file, reopened to mark a failed write in its header
// errno of the first write that failed (0: none). Nothing is written after it: a block written
// after a partial one would be read as the partial block's records.
std::atomic<int> g_write_errno{0};
pthread_key_t g_key;
pthread_mutex_t g_threads_lock = PTHREAD_MUTEX_INITIALIZER;
ThreadState* g_threads = nullptr;
std::atomic<uint32_t> g_next_serial{0};

// The global order. On its own cache line: every recorded call writes it, and sharing a line with
// the read-mostly globals above would make every thread's mode check miss. Cost: an uncontended
// lock xadd (~20 cycles); with several threads allocating at once the line bounces between cores
// (~50-100 ns per call), the price of an exact cross-thread order.
alignas(64) std::atomic<uint64_t> g_seq{1};
alignas(64) char g_boot[kBootBytes];
std::atomic<size_t> g_boot_used{0};

inline bool is_boot(const void* p) {
  return reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(g_boot) < kBootBytes;
}

// Bootstrap bump allocator for calls made while dlsym runs. Never freed; 16-byte header holds
// the size for realloc and malloc_usable_size. Zeroed (static storage), so calloc is free.
void* boot_alloc(size_t size, size_t align) {
  if (align < 16) align = 16;
  size_t used = g_boot_used.load(std::memory_order_relaxed);
  for (;;) {
    const uintptr_t base = reinterpret_cast<uintptr_t>(g_boot);
    const uintptr_t start = (base + used + 16 + align - 1) & ~(uintptr_t{align} - 1);
    const size_t end = start - base + size;
    if (size > kBootBytes || end > kBootBytes) return nullptr;
    if (g_boot_used.compare_exchange_weak(used, end, std::memory_order_relaxed)) {
      reinterpret_cast<size_t*>(start)[-1] = size;
      return reinterpret_cast<void*>(start);
    }
  }
}
inline size_t boot_size(const void* p) { return static_cast<const size_t*>(p)[-1]; }

// Formatting without stdio: snprintf may allocate, and this runs inside malloc.
char* append_str(char* out, char* end, const char* s) {
  while (*s && out < end) *out++ = *s++;
  return out;
}
char* append_u64(char* out, char* end, uint64_t v) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  while (n && out < end) *out++ = digits[--n];
  return out;
}

bool write_all(int fd, const void* data, size_t bytes) {
  const char* p = static_cast<const char*>(data);
  while (bytes) {
    const ssize_t n = write(fd, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
  return true;
}

// The first failed write: recording stops (every later call is forwarded unrecorded, so the
// program runs on at full speed) and the raw header says why, for `allocmark record` to report.
// The header is rewritten through a descriptor of its own: pwrite on our O_APPEND one would
// append on Linux.
[[gnu::noinline, gnu::cold]] void write_failed(int err) {
  int expected = 0;
  if (!g_write_errno.compare_exchange_strong(expected, err)) return;
  g_mode.store(kForward, std::memory_order_release);
  const int fd = open(g_path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  const uint32_t value = static_cast<uint32_t>(err);
  pwrite(fd, &value, sizeof value, offsetof(FileHeader, write_errno));
  close(fd);
}

// Every write of records goes through here. A write past RLIMIT_FSIZE raises SIGXFSZ, whose
// default action kills the program: it is blocked for the write and a signal we caused is
// taken back, so the program sees neither. Cost: two sigprocmask calls per 1 MiB block.
bool write_records(const void* data, size_t bytes) {
  if (g_fd < 0 || g_write_errno.load(std::memory_order_relaxed) != 0) return false;
  sigset_t xfsz, old;
  sigemptyset(&xfsz);
  sigaddset(&xfsz, SIGXFSZ);
  pthread_sigmask(SIG_BLOCK, &xfsz, &old);
  const bool ok = write_all(g_fd, data, bytes);
  const int err = ok ? 0 : errno;
  // A program that blocks SIGXFSZ itself keeps its pending signal: it may have raised it.
  if (err == EFBIG && !sigismember(&old, SIGXFSZ)) {
    const timespec zero{0, 0};
    sigtimedwait(&xfsz, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (!ok) write_failed(err);
  return ok;
}

// Opens DIR/PID-STARTNS.raw and writes its header. One file per process image: an exec'd image
// keeps the pid, so the start time tells the images apart.
void open_raw_file(bool forked) {
  const int saved_errno = errno;
  char* path = g_path;
  char* end = path + sizeof g_path - 1;
  const uint64_t start = realtime_ns();
  char* p = append_str(path, end, g_dir);
  p = append_str(p, end, "/");
  p = append_u64(p, end, static_cast<uint64_t>(getpid()));
  p = append_str(p, end, "-");
  p = append_u64(p, end, start);
  p = append_str(p, end, ".raw");
  *p = 0;
  g_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  // Out of the way of the program's own descriptors: a program that closes low fds and opens
  // files of its own must never receive our records in them.
  if (g_fd >= 0 && g_fd < kHighFd) {
    const int high = fcntl(g_fd, F_DUPFD_CLOEXEC, kHighFd);
    if (high >= 0) {
      close(g_fd);
      g_fd = high;
    }
  }
  if (g_fd >= 0) {
    FileHeader h{};
    memcpy(h.magic, kFileMagic, sizeof h.magic);
    h.pid = static_cast<uint32_t>(getpid());
    h.ppid = static_cast<uint32_t>(getppid());
    h.start_ns = start;
    h.forked = forked ? 1 : 0;
    // A header that cannot be written leaves a short file: `allocmark record` reports it.
    if (!write_all(g_fd, &h, sizeof h)) {
      close(g_fd);
      g_fd = -1;
    }
  }
  errno = saved_errno;
}

// Writes the thread's buffered records as one block. Slow path (once per kBufferRecords calls).
[[gnu::noinline, gnu::cold]] void flush_own(ThreadState& t) {
  const uint32_t n = t.count.load(std::memory_order_relaxed);
  if (n && g_fd >= 0) {
    const int saved_errno = errno;
    const bool saved_guard = t.guard;
    t.guard = true;
    t.block->magic = kBlockMagic;
    t.block->thread = t.serial;
    t.block->count = n;
    t.block->tid = t.tid;
    write_records(t.block, sizeof(BlockHeader) + n * sizeof(RawRecord));
    t.guard = saved_guard;
    errno = saved_errno;
  }
  // Seqlock writer: the snapshot taken at exit by another thread compares gen before and after
  // copying, so slots reused after this point are never written out half-overwritten.
  t.gen.store(t.gen.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  t.count.store(0, std::memory_order_relaxed);
}

// An empty block naming the thread, written before it takes its first sequence number. With
// O_APPEND this puts it ahead of every block holding a later number, which is what lets
// `allocmark record` convert while the program runs: once a record with sequence s is in the file,
// every thread that could still hold an earlier one in its buffer is known (raw_convert.cc).
// Cost: one write(2) per thread.
void announce_thread(const ThreadState& t) {
  const int saved_errno = errno;
  const BlockHeader h{kBlockMagic, t.serial, 0, t.tid};
  write_records(&h, sizeof h);
  errno = saved_errno;
}

void use_direct_buffer(ThreadState& t) {
  t.block = &t.direct.header;
  t.records = &t.direct.record;
  t.limit = 1;
}

// First record of a thread: its buffer, serial, exit hook and place in the thread list.
[[gnu::noinline, gnu::cold]] void setup_thread(ThreadState& t) {
  const bool saved_guard = t.guard;
  t.guard = true;
  const int saved_errno = errno;
  t.serial = g_next_serial.fetch_add(1, std::memory_order_relaxed) + 1;
  t.tid = static_cast<uint32_t>(gettid());
  void* mem =
      mmap(nullptr, kBufferBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    use_direct_buffer(t);
  } else {
    t.block = static_cast<BlockHeader*>(mem);
    t.records = reinterpret_cast<RawRecord*>(t.block + 1);
    t.limit = kBufferRecords;
  }
  pthread_setspecific(g_key, &t);  // may calloc (keys >= 32): the guard keeps that unrecorded
  announce_thread(t);
  pthread_mutex_lock(&g_threads_lock);
  t.next = g_threads;
  t.prev = nullptr;
  if (g_threads) g_threads->prev = &t;
  g_threads = &t;
  t.registered = true;
  pthread_mutex_unlock(&g_threads_lock);
  errno = saved_errno;
  t.guard = saved_guard;
}

void unregister_locked(ThreadState& t) {
  if (!t.registered) return;
  if (t.prev)
    t.prev->next = t.next;
  else
    g_threads = t.next;
  if (t.next) t.next->prev = t.prev;
  t.registered = false;
}

// The thread's place in the global order. A thread is set up (and announced) before its first
// number is taken, never after: see announce_thread.
[[gnu::always_inline]] inline uint64_t next_seq(ThreadState& t) {
  if (__builtin_expect(t.records == nullptr, 0)) setup_thread(t);
  return g_seq.fetch_add(1, std::memory_order_relaxed);
}

// `seq` comes from next_seq(t), so the buffer exists.
[[gnu::always_inline]] inline void record(ThreadState& t, uint8_t op, uint8_t flags,
                                          const void* ptr, uint64_t size, uint64_t aux,
                                          uint64_t seq) {
  const uint32_t n = t.count.load(std::memory_order_relaxed);
  t.records[n] = RawRecord{make_word(seq, op, flags), reinterpret_cast<uintptr_t>(ptr), size, aux};
  t.count.store(n + 1, std::memory_order_release);
  if (__builtin_expect(n + 1 >= t.limit, 0)) flush_own(t);
}

// pthread key destructor: the thread is ending. Its later calls (other destructors) still get
// recorded, one write each, through the direct buffer.
void thread_exit_hook(void*) {
  ThreadState& t = t_state;
  if (g_mode.load(std::memory_order_acquire) != kRecording || !t.records) return;
  t.guard = true;
  record(t, kThreadExit, 0, nullptr, 0, 0, next_seq(t));
  flush_own(t);
  pthread_mutex_lock(&g_threads_lock);
  unregister_locked(t);
  pthread_mutex_unlock(&g_threads_lock);
  if (t.block != &t.direct.header) munmap(t.block, kBufferBytes);
  use_direct_buffer(t);
  t.guard = false;
}

// Exit: flush our own buffer and a consistent snapshot of every other live thread's (exit() may
// run on any thread while others keep allocating). Afterwards this thread writes each record.
__attribute__((destructor)) void flush_at_exit() {
  if (g_mode.load(std::memory_order_acquire) != kRecording) return;
  ThreadState& self = t_state;
  self.guard = true;
  void* stage =
      mmap(nullptr, kBufferBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  pthread_mutex_lock(&g_threads_lock);
  for (ThreadState* s = g_threads; s; s = s->next) {
    if (s == &self) continue;
    if (stage == MAP_FAILED) break;
    const uint32_t g1 = s->gen.load(std::memory_order_acquire);
    const uint32_t n = s->count.load(std::memory_order_acquire);
    auto* header = static_cast<BlockHeader*>(stage);
    memcpy(header + 1, s->records, n * sizeof(RawRecord));
    std::atomic_thread_fence(std::memory_order_acquire);
    if (n == 0 || s->gen.load(std::memory_order_relaxed) != g1) continue;  // it flushed itself
    *header = BlockHeader{kBlockMagic, s->serial, n, s->tid};
    write_records(header, sizeof(BlockHeader) + n * sizeof(RawRecord));
  }
  pthread_mutex_unlock(&g_threads_lock);
  if (stage != MAP_FAILED) munmap(stage, kBufferBytes);
  if (self.records) {
    flush_own(self);
    self.limit = 1;
  }
  self.guard = false;
}

void atfork_prepare() { pthread_mutex_lock(&g_threads_lock); }
void atfork_parent() { pthread_mutex_unlock(&g_threads_lock); }
// The child is a new process: a new raw file (or none with --no-children). Records buffered
// before fork() belong to the parent, which writes its own copy; other threads do not exist here.
void atfork_child() {
  pthread_mutex_init(&g_threads_lock, nullptr);
  if (g_mode.load(std::memory_order_relaxed) != kRecording) return;
  ThreadState& self = t_state;
  self.count.store(0, std::memory_order_relaxed);
  self.gen.fetch_add(1, std::memory_order_relaxed);
  self.tid = static_cast<uint32_t>(gettid());
  g_threads = nullptr;
  if (self.registered) {
    self.next = self.prev = nullptr;
    g_threads = &self;
  }
  if (g_fd >= 0) close(g_fd);
  g_fd = -1;
  if (g_no_children) {
    g_mode.store(kForward, std::memory_order_release);
    return;
  }
  open_raw_file(true);
  if (self.records) announce_thread(self);  // its buffered numbers went with the parent's file
}

template <class F>
void resolve(F*& slot, const char* name) {
  slot = reinterpret_cast<F*>(dlsym(RTLD_NEXT, name));
}

// Once per process, by the first caller; others wait. dlsym may call malloc/calloc on this
// thread: the guard sends those to the bootstrap buffer until the real function is known.
[[gnu::noinline, gnu::cold]] void init() {
  int expected = kUninit;
  if (!g_mode.compare_exchange_strong(expected, kInitialising, std::memory_order_acq_rel)) {
    while (g_mode.load(std::memory_order_acquire) == kInitialising) sched_yield();
    return;
  }
  ThreadState& t = t_state;
  const bool saved_guard = t.guard;
  t.guard = true;
  const int saved_errno = errno;
  resolve(g_real.free, "free");
  resolve(g_real.malloc, "malloc");
  resolve(g_real.calloc, "calloc");
  resolve(g_real.realloc, "realloc");
  resolve(g_real.posix_memalign, "posix_memalign");
  resolve(g_real.aligned_alloc, "aligned_alloc");
  resolve(g_real.memalign, "memalign");
  resolve(g_real.valloc, "valloc");
  resolve(g_real.pvalloc, "pvalloc");
  resolve(g_real.malloc_usable_size, "malloc_usable_size");
  static const char* const kCxxNew[2][2][2] = {
      {{"_Znwm", "_ZnwmRKSt9nothrow_t"},
       {"_ZnwmSt11align_val_t", "_ZnwmSt11align_val_tRKSt9nothrow_t"}},
      {{"_Znam", "_ZnamRKSt9nothrow_t"},
       {"_ZnamSt11align_val_t", "_ZnamSt11align_val_tRKSt9nothrow_t"}}};
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b)
      for (int c = 0; c < 2; ++c) g_real.cxx_new[a][b][c] = dlsym(RTLD_NEXT, kCxxNew[a][b][c]);
  const long page = sysconf(_SC_PAGESIZE);
  if (page > 0) g_page = static_cast<size_t>(page);

  int mode = kForward;
  const char* dir = getenv(kEnvDir);
  // The program itself is the process `allocmark record` started: its parent is allocmark (the
  // pid is not known before fork, the parent's is). Its children have the program as parent.
  const char* launcher = getenv(kEnvParentPid);
  const char* no_children = getenv(kEnvNoChildren);
  g_no_children = no_children && no_children[0] == '1';
  const bool is_root =
      !launcher || strtoull(launcher, nullptr, 10) == static_cast<uint64_t>(getppid());
  if (dir && *dir && strlen(dir) < sizeof g_dir && g_real.malloc && g_real.free &&
      (is_root || !g_no_children)) {
    memcpy(g_dir, dir, strlen(dir) + 1);
    if (pthread_key_create(&g_key, thread_exit_hook) == 0) {
      pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
      open_raw_file(false);
      if (g_fd >= 0) mode = kRecording;
    }
  }
  errno = saved_errno;
  t.guard = saved_guard;
  g_mode.store(mode, std::memory_order_release);
}

// Programs that never allocate still get a (header-only) raw file, so `allocmark record` can tell
// them from programs that ignored LD_PRELOAD. Threads created before this ran are fine: state is
// per thread and made on each thread's first call.
__attribute__((constructor)) void init_at_load() {
  if (g_mode.load(std::memory_order_acquire) == kUninit) init();
}

// True when this call should be recorded; the common case costs two loads.
[[gnu::always_inline]] inline bool recording(const ThreadState& t) {
  return __builtin_expect(g_mode.load(std::memory_order_acquire) == kRecording && !t.guard, 1);
}

// Not recording: initialise if needed, then forward (bootstrap while dlsym runs).
[[gnu::noinline]] void ensure_init() {
  if (g_mode.load(std::memory_order_acquire) < kForward && !t_state.guard) init();
}

[[gnu::noinline]] void* slow_malloc(size_t n) {
  ensure_init();
  if (g_real.malloc) return g_real.malloc(n);
  return boot_alloc(n, 16);
}

[[gnu::noinline]] void* slow_calloc(size_t n, size_t size) {
  ensure_init();
  if (g_real.calloc) return g_real.calloc(n, size);
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) return nullptr;
  return boot_alloc(total, 16);  // static storage: already zero
}

[[gnu::noinline]] void slow_free(void* p) {
  ensure_init();
  if (g_real.free) g_real.free(p);
}

uint64_t pow2_ceil(uint64_t align) {
  if (align <= 1) return 1;
  return uint64_t{1} << (64 - __builtin_clzll(align - 1));
}

// The aligned entry points share this: `call` runs the real function (or the bootstrap).
template <class Call>
[[gnu::always_inline]] inline void* aligned_common(uint64_t align, uint64_t size, uint8_t flags,
                                                   Call call) {
  ThreadState& t = t_state;
  if (!recording(t)) {
    ensure_init();
    return call();
  }
  void* p = call();
  if (p) record(t, kAligned, flags, p, size, pow2_ceil(align), next_seq(t));
  return p;
}

void* realloc_impl(void* p, size_t n) {
  if (is_boot(p)) {  // allocated while dlsym ran: move it to the real heap
    void* q = malloc(n);
    if (q) memcpy(q, p, boot_size(p) < n ? boot_size(p) : n);
    return q;
  }
  ThreadState& t = t_state;
  if (!recording(t)) {
    ensure_init();
    if (g_real.realloc) return g_real.realloc(p, n);
    void* q = boot_alloc(n, 16);
    return q;  // only while dlsym runs, and only for p == NULL
  }
  if (!p) {
    void* q = g_real.realloc(nullptr, n);
    if (q) record(t, kRealloc, 0, q, n, 0, next_seq(t));
    return q;
  }
  // The old block may be handed to another thread as soon as the real realloc frees it, so its
  // release is ordered before the call and the new block's arrival after it.
  const uint64_t before = next_seq(t);
  void* q = g_real.realloc(p, n);
  if (!q) {
    if (n == 0) record(t, kFree, 0, p, 0, 0, before);  // glibc: realloc(p, 0) frees p
    return nullptr;                                    // failed: p unchanged, nothing happened
  }
  if (q == p) {
    record(t, kRealloc, 0, q, n, reinterpret_cast<uintptr_t>(p), before);
  } else {
    record(t, kReallocFree, 0, p, 0, 0, before);
    record(t, kRealloc, 0, q, n, reinterpret_cast<uintptr_t>(p), next_seq(t));
  }
  return q;
}

// operator new: malloc/memalign on the fast path (what libstdc++ does); the real operator when
// that fails (new_handler loop, std::bad_alloc) or when we are not recording.
[[gnu::always_inline]] inline void* cxx_new(size_t n, size_t align, int array, bool nothrow) {
  ThreadState& t = t_state;
  if (recording(t)) {
    void* p = align ? g_real.memalign(align, n ? n : 1) : g_real.malloc(n ? n : 1);
    if (p) {
      record(t, align ? kAligned : kMalloc, kRawCxx, p, n, align, next_seq(t));
      return p;
    }
  } else {
    ensure_init();
  }
  void* real = g_real.cxx_new[array][align != 0][nothrow];
  if (!real) abort();  // no libstdc++ in the process, yet operator new was called
  if (nothrow) {
    const std::nothrow_t tag{};  // not std::nothrow: that object lives in libstdc++
    if (align)
      return reinterpret_cast<void* (*)(size_t, std::align_val_t, const std::nothrow_t&)>(real)(
          n, std::align_val_t(align), tag);
    return reinterpret_cast<void* (*)(size_t, const std::nothrow_t&)>(real)(n, tag);
  }
  if (align)
    return reinterpret_cast<void* (*)(size_t, std::align_val_t)>(real)(n, std::align_val_t(align));
  return reinterpret_cast<void* (*)(size_t)>(real)(n);
}

[[gnu::always_inline]] inline void cxx_delete(void* p, size_t size, bool sized) {
  if (!p || is_boot(p)) return;
  ThreadState& t = t_state;
  if (!recording(t)) return slow_free(p);
  record(t, kFree, static_cast<uint8_t>(kRawCxx | (sized ? kRawSized : 0)), p, size, 0,
         next_seq(t));
  g_real.free(p);
}

}  // namespace
}  // namespace allocmark::raw

using namespace allocmark::raw;

extern "C" {

__attribute__((visibility("default"))) void* malloc(size_t n) {
  ThreadState& t = t_state;
  if (!recording(t)) return slow_malloc(n);
  void* p = g_real.malloc(n);
  if (p) record(t, kMalloc, 0, p, n, 0, next_seq(t));
  return p;
}

__attribute__((visibility("default"))) void free(void* p) {
  if (!p || is_boot(p)) return;
  ThreadState& t = t_state;
  if (!recording(t)) return slow_free(p);
  record(t, kFree, 0, p, 0, 0, next_seq(t));  // before the real free: see realloc_impl
  g_real.free(p);
}

__attribute__((visibility("default"))) void* calloc(size_t n, size_t size) {
  ThreadState& t = t_state;
  if (!recording(t)) return slow_calloc(n, size);
  void* p = g_real.calloc(n, size);
  if (p) record(t, kCalloc, 0, p, size, n, next_seq(t));
  return p;
}

__attribute__((visibility("default"))) void* realloc(void* p, size_t n) {
  return realloc_impl(p, n);
}

__attribute__((visibility("default"))) void* reallocarray(void* p, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc_impl(p, total);
}

__attribute__((visibility("default"))) int posix_memalign(void** out, size_t align, size_t n) {
  int rc = 0;
  void* p = aligned_common(align, n, 0, [&]() -> void* {
    if (!g_real.posix_memalign) {
      rc = (align & (align - 1)) || align % sizeof(void*) ? EINVAL : 0;
      void* b = rc ? nullptr : boot_alloc(n, align);
      if (!rc && !b) rc = ENOMEM;
      return b;
    }
    void* r = nullptr;
    rc = g_real.posix_memalign(&r, align, n);
    return rc == 0 ? r : nullptr;
  });
  if (rc == 0) *out = p;
  return rc;
}

__attribute__((visibility("default"))) void* aligned_alloc(size_t align, size_t n) {
  return aligned_common(align, n, 0, [&]() -> void* {
    return g_real.aligned_alloc ? g_real.aligned_alloc(align, n) : boot_alloc(n, align);
  });
}

__attribute__((visibility("default"))) void* memalign(size_t align, size_t n) {
  return aligned_common(align, n, 0, [&]() -> void* {
    return g_real.memalign ? g_real.memalign(align, n) : boot_alloc(n, align);
  });
}

__attribute__((visibility("default"))) void* valloc(size_t n) {
  return aligned_common(g_page, n, 0, [&]() -> void* {
    return g_real.valloc ? g_real.valloc(n) : boot_alloc(n, g_page);
  });
}

// pvalloc rounds the size up to whole pages, and the program may use all of them.
__attribute__((visibility("default"))) void* pvalloc(size_t n) {
  const size_t rounded = n ? (n + g_page - 1) & ~(g_page - 1) : g_page;
  return aligned_common(g_page, rounded, 0, [&]() -> void* {
    return g_real.pvalloc ? g_real.pvalloc(n) : boot_alloc(rounded, g_page);
  });
}

__attribute__((visibility("default"))) size_t malloc_usable_size(void* p) {
  if (!p) return 0;
  if (is_boot(p)) return boot_size(p);
  ensure_init();
  return g_real.malloc_usable_size ? g_real.malloc_usable_size(p) : 0;
}

}  // extern "C"

// C++ operators. kRawCxx marks them; the sized deletes also carry kRawSized.
#define ALLOCMARK_EXPORT __attribute__((visibility("default")))
ALLOCMARK_EXPORT void* operator new(size_t n) { return cxx_new(n, 0, 0, false); }
ALLOCMARK_EXPORT void* operator new[](size_t n) { return cxx_new(n, 0, 1, false); }
ALLOCMARK_EXPORT void* operator new(size_t n, const std::nothrow_t&) noexcept {
  return cxx_new(n, 0, 0, true);
}
ALLOCMARK_EXPORT void* operator new[](size_t n, const std::nothrow_t&) noexcept {
  return cxx_new(n, 0, 1, true);
}
ALLOCMARK_EXPORT void* operator new(size_t n, std::align_val_t a) {
  return cxx_new(n, static_cast<size_t>(a), 0, false);
}
ALLOCMARK_EXPORT void* operator new[](size_t n, std::align_val_t a) {
  return cxx_new(n, static_cast<size_t>(a), 1, false);
}
ALLOCMARK_EXPORT void* operator new(size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return cxx_new(n, static_cast<size_t>(a), 0, true);
}
ALLOCMARK_EXPORT void* operator new[](size_t n, std::align_val_t a,
                                      const std::nothrow_t&) noexcept {
  return cxx_new(n, static_cast<size_t>(a), 1, true);
}
ALLOCMARK_EXPORT void operator delete(void* p) noexcept { cxx_delete(p, 0, false); }
ALLOCMARK_EXPORT void operator delete[](void* p) noexcept { cxx_delete(p, 0, false); }
ALLOCMARK_EXPORT void operator delete(void* p, size_t n) noexcept { cxx_delete(p, n, true); }
ALLOCMARK_EXPORT void operator delete[](void* p, size_t n) noexcept { cxx_delete(p, n, true); }
ALLOCMARK_EXPORT void operator delete(void* p, const std::nothrow_t&) noexcept {
  cxx_delete(p, 0, false);
}
ALLOCMARK_EXPORT void operator delete[](void* p, const std::nothrow_t&) noexcept {
  cxx_delete(p, 0, false);
}
ALLOCMARK_EXPORT void operator delete(void* p, std::align_val_t) noexcept {
  cxx_delete(p, 0, false);
}
ALLOCMARK_EXPORT void operator delete[](void* p, std::align_val_t) noexcept {
  cxx_delete(p, 0, false);
}
ALLOCMARK_EXPORT void operator delete(void* p, size_t n, std::align_val_t) noexcept {
  cxx_delete(p, n, true);
}
ALLOCMARK_EXPORT void operator delete[](void* p, size_t n, std::align_val_t) noexcept {
  cxx_delete(p, n, true);
}
ALLOCMARK_EXPORT void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  cxx_delete(p, 0, false);
}
ALLOCMARK_EXPORT void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  cxx_delete(p, 0, false);
}
