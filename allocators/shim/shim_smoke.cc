// Exercises every exported entry point of a malloc shim; run with LD_PRELOAD=libamk_*.so.
// Layer: allocators/shim tests. Exits non-zero with one line per failed check.
#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <new>
#include <string>
#include <thread>
#include <vector>

static int g_failures = 0;
#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "shim_smoke: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      ++g_failures;                                                          \
    }                                                                        \
  } while (0)

static bool aligned(const void* p, size_t a) { return reinterpret_cast<uintptr_t>(p) % a == 0; }

struct alignas(256) Over {
  char c[256];
};

// The library under test must be the one that provides malloc (ALLOCMARK_EXPECT_LIB names it).
static void check_provider() {
  if (const char* want = getenv("ALLOCMARK_EXPECT_LIB")) {
    Dl_info info{};
    void* sym = dlsym(RTLD_DEFAULT, "malloc");
    CHECK(sym != nullptr && dladdr(sym, &info) != 0 && info.dli_fname != nullptr &&
          strstr(info.dli_fname, want) != nullptr);
  }
}

// malloc, realloc (grow, shrink, to 0), calloc (zeroed), and requests too large to serve.
static void check_c_basics() {
  void* p = malloc(100);
  CHECK(p && aligned(p, 16) && malloc_usable_size(p) >= 100);
  memset(p, 1, 100);
  p = realloc(p, 100000);
  CHECK(p && static_cast<unsigned char*>(p)[99] == 1);
  p = realloc(p, 10);
  CHECK(p && static_cast<unsigned char*>(p)[9] == 1);
  free(p);
  CHECK(realloc(malloc(5), 0) == nullptr);
  auto* z = static_cast<unsigned char*>(calloc(1000, 7));
  bool zero = z != nullptr;
  for (int i = 0; z && i < 7000; ++i) zero = zero && z[i] == 0;
  CHECK(zero);
  free(z);
  volatile size_t huge = SIZE_MAX / 2;  // volatile: keep the compiler from judging the calls
  CHECK(calloc(huge, 4) == nullptr);
  CHECK(malloc(huge + 1000) == nullptr);
}

// posix_memalign, aligned_alloc, memalign at every power of two up to 64 KiB; valloc, pvalloc.
static void check_c_aligned() {
  for (size_t a = sizeof(void*); a <= (64 << 10); a <<= 1) {
    void* q = nullptr;
    CHECK(posix_memalign(&q, a, 33) == 0 && aligned(q, a));
    free(q);
    q = aligned_alloc(a, 3 * a);
    CHECK(q && aligned(q, a));
    free(q);
    q = memalign(a, 5);
    CHECK(q && aligned(q, a));
    free(q);
  }
  void* q = nullptr;
  CHECK(posix_memalign(&q, 24, 10) != 0);
  void* v = valloc(10);
  CHECK(v && aligned(v, 4096));
  free(v);
  v = pvalloc(10);
  CHECK(v && aligned(v, 4096) && malloc_usable_size(v) >= 10);
  free(v);
}

// C++ operators, all forms: plain, array, over-aligned, nothrow, sized, and bad_alloc.
static void check_cxx_operators() {
  auto* i = new int(5);
  delete i;
  auto* arr = new int[1000]();
  delete[] arr;
  auto* o = new Over;
  CHECK(aligned(o, 256));
  delete o;
  auto* oa = new Over[3];
  CHECK(aligned(oa, 256));
  delete[] oa;
  void* nt = ::operator new(64, std::nothrow);
  ::operator delete(nt, std::nothrow);
  void* sa = ::operator new(64, std::align_val_t(128));
  CHECK(aligned(sa, 128));
  ::operator delete(sa, 64, std::align_val_t(128));
  CHECK(::operator new(SIZE_MAX / 2, std::nothrow) == nullptr);
  bool threw = false;
  try {
    void* huge = ::operator new(SIZE_MAX / 2);
    ::operator delete(huge);
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  CHECK(threw);
  std::string s;
  for (int k = 0; k < 10000; ++k) s += std::to_string(k);
  CHECK(s.size() == 38890);
}

// Threads with cross-thread frees: one thread allocates, four others check and free.
static void check_cross_thread_frees() {
  std::vector<void*> handoff(20000);
  std::thread producer([&] {
    for (size_t k = 0; k < handoff.size(); ++k) {
      handoff[k] = malloc(16 + k % 3000);
      memset(handoff[k], 0x5A, 16);
    }
  });
  producer.join();
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (size_t k = t; k < handoff.size(); k += 4) {
        CHECK(static_cast<unsigned char*>(handoff[k])[15] == 0x5A);
        free(handoff[k]);
      }
      for (int k = 0; k < 20000; ++k) free(malloc(k % 500));
    });
  }
  for (auto& t : ts) t.join();
}

// fork while another thread allocates: the child must be able to allocate.
static void check_fork() {
  std::thread busy([] {
    for (int k = 0; k < 200000; ++k) free(malloc(64));
  });
  for (int k = 0; k < 5; ++k) {
    pid_t pid = fork();
    if (pid == 0) {
      void* c = malloc(1000);
      _exit(c != nullptr ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  busy.join();
}

int main() {
  check_provider();
  check_c_basics();
  check_c_aligned();
  check_cxx_operators();
  check_cross_thread_frees();
  check_fork();
  if (g_failures == 0) printf("shim_smoke: all checks passed\n");
  return g_failures == 0 ? 0 : 1;
}
