#include "tsdb/small_mutex.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

namespace vigil::tsdb {
namespace {

TEST(SmallMutex, IsSmall) { static_assert(sizeof(SmallMutex) == 4); }

TEST(SmallMutex, ExcludesUnderContention) {
  SmallMutex mu;
  int64_t counter = 0;  // plain: only the mutex makes the increments safe
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100000; ++i) {
        std::lock_guard lock(mu);
        ++counter;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(counter, 400000);
}

TEST(SmallMutex, TryLock) {
  SmallMutex mu;
  EXPECT_TRUE(mu.try_lock());
  EXPECT_FALSE(mu.try_lock());
  mu.unlock();
  EXPECT_TRUE(mu.try_lock());
  mu.unlock();
}

}  // namespace
}  // namespace vigil::tsdb
