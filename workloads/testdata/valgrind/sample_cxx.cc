// Sample C++ program for the valgrind importer's test data: operator new/delete in their
// plain, array, sized, aligned and nothrow forms. Built and run by make_samples.sh.
#include <cstdlib>
#include <new>

struct alignas(64) Wide {
  char c[64];
};

int main() {
  int* one = new int(3);
  int* many = new int[10];
  Wide* w = new Wide;
  Wide* ws = new Wide[2];
  void* nt = ::operator new(24, std::nothrow);
  void* plain = std::malloc(16);
  delete one;     // sized delete (_ZdlPvm) with -fsized-deallocation, the C++14+ default
  delete[] many;  // _ZdaPv
  delete w;       // aligned sized delete
  delete[] ws;    // aligned array delete
  ::operator delete(nt);
  std::free(plain);
  return 0;
}
