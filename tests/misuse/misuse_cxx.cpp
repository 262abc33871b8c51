// Heap-misuse suite, C++ cases: new/delete mismatches, sized delete with the
// wrong size, and operator new of an impossible size. Same harness as misuse.c.
#include <new>

#include "misuse.h"

// A user-provided destructor makes new[] store the element count (the
// "cookie") in front of the array, so new[]/delete mismatches move the pointer
// that reaches operator delete by 8 bytes. It is empty, so delete[] over a
// wrong count runs no code.
struct T {
  long a, b;
  ~T() {}
};
struct Big {
  char bytes[1 << 20];
  ~Big() {}
};

static void new_array_delete(const mcase* c) {  // new T[], delete: frees p + 8
  T* p = opaque(new T[c->n / sizeof(T)]);
  delete p;
  finish(c->n);
}

static void new_delete_array(const mcase* c) {  // new T, delete[]: reads a cookie that is not there
  if (c->n == S) {
    T* p = opaque(new T);
    delete[] p;
  } else {
    Big* p = opaque(new Big);
    delete[] p;
  }
  finish(c->n);
}

static void sized_delete(const mcase* c) {  // operator new(n), operator delete(p, k)
  void* p = ::operator new(c->n);
  ::operator delete(opaque(p), opaque(c->k));
  finish(c->n);
}

// delete through a base without a virtual destructor: operator delete gets
// sizeof(Base), not the size that was allocated.
struct Base {
  long a;
};
struct Derived : Base {
  char pad[504];
};

static void delete_base(const mcase* c) {
  Base* b = opaque(static_cast<Base*>(new Derived));
  delete b;
  finish(c->n);
}

static void new_huge(const mcase*) {  // must throw std::bad_alloc
  try {
    void* p = ::operator new(opaque(SIZE_MAX / 2));
    say("NOT CAUGHT", "operator new returned %p", p);
  } catch (const std::bad_alloc&) {
    say("CAUGHT", "std::bad_alloc");
  }
}

static const mcase cases[] = {
    // name                             category       mode   run               n  k  how
    {"cxx_new_array_delete_small", "new_delete", SIG, new_array_delete, S, 0, 0},
    {"cxx_new_array_delete_large", "new_delete", SIG, new_array_delete, L, 0, 0},
    {"cxx_new_delete_array_small", "new_delete", SIG, new_delete_array, S, 0, 0},
    {"cxx_new_delete_array_large", "new_delete", SIG, new_delete_array, L, 0, 0},
    {"cxx_sized_delete_small_other_class", "new_delete", SIG, sized_delete, S, 512, 0},
    {"cxx_sized_delete_small_as_large", "new_delete", SIG, sized_delete, S, L, 0},
    {"cxx_sized_delete_medium_as_small", "new_delete", SIG, sized_delete, M, S, 0},
    {"cxx_sized_delete_large_as_small", "new_delete", SIG, sized_delete, L, S, 0},
    {"cxx_delete_base_nonvirtual", "new_delete", SIG, delete_base, 512, 0, 0},
    {"impossible_cxx_new_huge", "impossible", CLEAN, new_huge, 0, 0, 0},
};

int main(int argc, char** argv) { return misuse_main(cases, sizeof cases / sizeof cases[0], argc, argv); }
