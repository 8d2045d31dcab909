// A 4-byte mutex for objects that exist by the hundred thousand (a head
// series' lock; std::mutex is 40 bytes). Locking is one compare-and-swap
// when uncontended; waiters sleep on a futex through std::atomic::wait.
// The states are Drepper's ("Futexes Are Tricky", mutex2): 0 unlocked,
// 1 locked, 2 locked with possible waiters.
#pragma once

#include <atomic>
#include <cstdint>

namespace vigil::tsdb {

class SmallMutex {
 public:
  SmallMutex() = default;
  SmallMutex(const SmallMutex&) = delete;
  SmallMutex& operator=(const SmallMutex&) = delete;

  void lock() {
    uint32_t c = 0;
    if (state_.compare_exchange_strong(c, 1, std::memory_order_acquire)) return;
    if (c != 2) c = state_.exchange(2, std::memory_order_acquire);
    while (c != 0) {
      state_.wait(2, std::memory_order_relaxed);
      c = state_.exchange(2, std::memory_order_acquire);
    }
  }
  bool try_lock() {
    uint32_t c = 0;
    return state_.compare_exchange_strong(c, 1, std::memory_order_acquire);
  }
  void unlock() {
    if (state_.exchange(0, std::memory_order_release) == 2) state_.notify_one();
  }

 private:
  std::atomic<uint32_t> state_{0};
};

}  // namespace vigil::tsdb
