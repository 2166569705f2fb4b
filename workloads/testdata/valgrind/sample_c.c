// Sample C program for the valgrind importer's test data: every C allocation function that
// `valgrind --trace-malloc=yes` logs, including realloc(p, 0) and a failed allocation.
// Built and run by make_samples.sh.
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

int main(void) {
  void* a = malloc(100);
  void* b = calloc(4, 25);
  a = realloc(a, 1000);
  void* c = realloc(NULL, 50);
  void* d = memalign(64, 200);
  void* e = NULL;
  if (posix_memalign(&e, 128, 300) != 0) return 1;
  void* f = aligned_alloc(256, 512);
  void* g = valloc(10);
  c = realloc(c, 0);
  void* volatile nothing = NULL;
  free(nothing);                           // free(0x0)
  void* huge = malloc(SIZE_MAX / 2);       // fails under valgrind: " = 0"
  free(a);
  free(b);
  free(d);
  free(e);
  free(f);
  free(g);
  free(huge);
  void* leak = malloc(33);  // still live at the end
  (void)leak;
  (void)c;
  return 0;
}
