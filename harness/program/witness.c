/* libamk_witness.so: preloaded beside the allocator under test into every process of a program
 * cell, it appends one line per process to $ALLOCMARK_WITNESS_FILE:
 *     pid <TAB> parent pid <TAB> executable <TAB> file that serves malloc (as the loader named it)
 * so the harness can tell that the allocator was really loaded and serves malloc, in the program
 * and in every child it started. A static or setuid program ignores LD_PRELOAD: it writes
 * nothing, and that absence is the evidence. Layer: harness (program room); plain C, no C++
 * runtime pulled into the program. Cost: one dlsym, one dladdr, one readlink and one append per
 * process start, and a dlopen(NOLOAD) per loaded object when the executable takes malloc's
 * address (tens of microseconds); nothing after the constructor. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether `addr` lies in the main program's loaded segments (dl_iterate_phdr lists it first). */
static int in_main_program_cb(struct dl_phdr_info* info, size_t size, void* data) {
  (void)size;
  const ElfW(Addr) addr = (ElfW(Addr))(*(void**)data);
  *(void**)data = NULL;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)* ph = &info->dlpi_phdr[i];
    const ElfW(Addr) start = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && addr >= start && addr < start + ph->p_memsz) return 1;
  }
  return 2; /* stop after the first object either way */
}

static int in_main_program(void* addr) {
  void* data = addr;
  return dl_iterate_phdr(in_main_program_cb, &data) == 1;
}

/* The object whose code is at `addr`, when that is a definition of malloc. An executable that
 * takes malloc's address (python3 does) holds a canonical PLT stub that every lookup returns:
 * that is not a definition: its symbol entry is undefined (SHN_UNDEF). */
static const char* definition_of(void* addr) {
  Dl_info info;
  const ElfW(Sym)* sym = NULL;
  if (!addr || !dladdr1(addr, &info, (void**)&sym, RTLD_DL_SYMENT) || !info.dli_fname) return NULL;
  if (in_main_program(addr) && (!sym || sym->st_shndx == SHN_UNDEF)) return NULL;
  return info.dli_fname;
}

/* The file that serves malloc: the first object in the global search order that defines it. */
static const char* malloc_provider(void) {
  const char* found = definition_of(dlsym(RTLD_DEFAULT, "malloc"));
  if (found) return found;
  void* self = dlopen(NULL, RTLD_LAZY | RTLD_NOLOAD);
  struct link_map* map = NULL;
  if (!self || dlinfo(self, RTLD_DI_LINKMAP, &map) != 0 || !map) return NULL;
  for (struct link_map* l = map->l_next; !found && l; l = l->l_next) {
    void* h = l->l_name && *l->l_name ? dlopen(l->l_name, RTLD_LAZY | RTLD_NOLOAD) : NULL;
    if (!h) continue;
    found = definition_of(dlsym(h, "malloc"));
    dlclose(h);
  }
  return found;
}

__attribute__((constructor)) static void allocmark_witness(void) {
  const char* path = getenv("ALLOCMARK_WITNESS_FILE");
  if (!path || !*path) return;
  const char* provider = malloc_provider();
  if (!provider || !*provider) provider = "unknown";
  char exe[1024];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = '\0';
  char line[2400];
  const int len = snprintf(line, sizeof line, "%d\t%d\t%s\t%s\n", (int)getpid(), (int)getppid(),
                           exe, provider);
  const int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  /* One write(2) under O_APPEND: lines of concurrent processes do not interleave. */
  if (len > 0) (void)!write(fd, line, (size_t)(len < (int)sizeof line ? len : (int)sizeof line - 1));
  close(fd);
}
