// C++ sized delete (issue 11): the size the compiler passes must be the one
// new allocated. Deleting a derived object through a base without a virtual
// destructor passes the base's size, and is caught; every correct sized
// delete, including arrays and aligned new, passes.
#include <gtest/gtest.h>

#include <memory>
#include <new>
#include <string>
#include <vector>

namespace {

struct Base {
  long a[3];
};
struct Derived : Base {
  long b[5];
};

const char* const kMismatch = "^hakozuna: operator delete\\(\\): size does not match the block 0x[0-9a-f]+\n?$";

TEST(SizedDelete, ADerivedObjectDeletedThroughItsBaseIsCaught) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(::operator delete(new Derived, sizeof(Base)), kMismatch);
  EXPECT_DEATH(::operator delete(::operator new(1 << 20), 100), kMismatch);
  EXPECT_DEATH(::operator delete(::operator new(100), 1 << 20), kMismatch);
  // Sized aligned delete is checked loosely (alignment may have rounded the
  // block up), and reported as what it is (it said "free_sized()").
  EXPECT_DEATH(::operator delete(::operator new(100, std::align_val_t(64)), 4000, std::align_val_t(64)), kMismatch);
  EXPECT_DEATH(::operator delete[](::operator new[](100, std::align_val_t(64)), 1 << 20, std::align_val_t(64)), kMismatch);
}

TEST(SizedDelete, CorrectSizedDeletesPass) {
  for (size_t n : {0ul, 1ul, 16ul, 17ul, 100ul, 1000ul, 1025ul, 5000ul, 200000ul, 300000ul, 5ul << 20}) {
    ::operator delete(::operator new(n), n);
    ::operator delete[](::operator new[](n), n);
    for (size_t align : {32ul, 64ul, 4096ul, 8192ul})
      ::operator delete(::operator new(n, std::align_val_t(align)), n, std::align_val_t(align));
  }
  // Containers free with the sizes they allocated.
  std::vector<std::string> v;
  for (int i = 0; i < 10000; ++i) v.emplace_back(static_cast<size_t>(i % 300), 'x');
  v.clear();
  v.shrink_to_fit();
  auto d = std::make_unique<Derived>();
  d.reset();
  SUCCEED();
}

}  // namespace
