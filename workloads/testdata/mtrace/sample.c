// Sample program for the mtrace importer's test data: one call of every allocation function
// glibc's mtrace() logs, including failures. Built and run by make_sample.sh.
#include <malloc.h>
#include <mcheck.h>
#include <stdint.h>
#include <stdlib.h>

int main(void) {
  void* early = malloc(7);  // before mtrace(): its free shows up as an unknown pointer
  mtrace();
  void* a = malloc(100);
  void* b = calloc(4, 25);
  a = realloc(a, 1000);        // "<" old, ">" new size
  void* c = realloc(NULL, 50); // logged as "+"
  void* d = memalign(64, 200); // alignment is not logged
  void* e = NULL;
  if (posix_memalign(&e, 128, 300) != 0) return 1;
  void* f = aligned_alloc(256, 512);
  free(NULL);                            // not logged
  c = realloc(c, 0);                     // logged as "-"
  void* g = malloc(SIZE_MAX / 2);        // fails: "+ (nil) SIZE"
  void* h = realloc(b, SIZE_MAX / 2);    // fails: "! OLD SIZE", b stays live
  b = realloc(b, 10);
  free(a);
  free(b);
  free(d);
  free(e);
  free(f);
  free(g);
  free(h);
  free(early);
  void* leak = malloc(33);  // still live at the end
  (void)leak;
  (void)c;
  muntrace();
  return 0;
}
