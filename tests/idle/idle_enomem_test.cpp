// Idle return and the exhaustion sequence (issue 8, point 2): no ENOMEM while
// sleeping threads hold enough free memory in their caches, however recently
// they used it. Runs with HAKOZUNA_ARENA_SIZE=256M and a purge delay of a
// minute (the purger must not be what returns it), linked against
// libhakozuna.so.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "sleepers.h"

namespace {

// 16 threads each allocate 12 MiB of 1-32 KiB blocks and free them: each
// keeps its bounded share (its bins and spill) and sleeps.
TEST(IdleReturn, NoEnomemWhileSleepingThreadsHoldFreeMemory) {
  idle_test::Sleepers sleepers(16, 12);
  // 16 x 12 MiB were in use, the arena has 256 MiB. Another 200 MiB, in
  // 1 MiB pieces (contiguity is not the question here), fits only if what
  // the sleeping threads cache is taken back.
  std::vector<void*> more;
  for (unsigned i = 0; i < 200; ++i) {
    errno = 0;
    void* p = malloc(size_t{1} << 20);
    EXPECT_NE(p, nullptr) << "MiB " << i << ": errno " << errno;
    if (!p) break;
    memset(p, 2, size_t{1} << 20);
    more.push_back(p);
  }
  for (void* p : more) free(p);
}

}  // namespace
