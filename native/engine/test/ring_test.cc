#include <atomic>
#include <thread>
#include <vector>

#include "test/testing.h"
#include "thread/mpsc_queue.h"
#include "thread/mpsc_ring.h"

using nds::MpscRing;

NDS_TEST(ring_rounds_capacity_and_reports_full) {
  MpscRing<int> ring(5);
  EXPECT_EQ(ring.capacity(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(ring.try_push(i));
  EXPECT_TRUE(!ring.try_push(99));  // full is back-pressure, not an overwrite
  int v = -1;
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(ring.try_pop(&v));
    EXPECT_EQ(v, i);
  }
  EXPECT_TRUE(!ring.try_pop(&v));
  EXPECT_TRUE(ring.empty());
}

NDS_TEST(ring_many_producers_deliver_every_item_once_in_producer_order) {
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 200000;
  MpscRing<uint64_t> ring(1024);
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&ring, p] {
      for (uint64_t i = 0; i < kPerProducer; ++i) {
        uint64_t item = (static_cast<uint64_t>(p) << 32) | i;
        while (!ring.try_push(item)) std::this_thread::yield();
      }
    });
  }
  std::vector<uint64_t> next(kProducers, 0);
  uint64_t received = 0;
  bool in_order = true;
  while (received < static_cast<uint64_t>(kProducers) * kPerProducer) {
    uint64_t item;
    if (!ring.try_pop(&item)) continue;
    int p = static_cast<int>(item >> 32);
    if ((item & 0xffffffffu) != next[p]) in_order = false;
    next[p] = (item & 0xffffffffu) + 1;
    ++received;
  }
  for (auto& t : producers) t.join();
  EXPECT_TRUE(in_order);
  for (int p = 0; p < kProducers; ++p) EXPECT_EQ(next[p], static_cast<uint64_t>(kPerProducer));
  uint64_t extra;
  EXPECT_TRUE(!ring.try_pop(&extra));
}

// The engine's send path: a full ring spills into the overflow list, nothing is dropped,
// and each producer's values come out in the order it pushed them.
NDS_TEST(queue_never_drops_when_the_ring_is_full_and_keeps_producer_order) {
  constexpr int kProducers = 3;
  constexpr uint64_t kPerProducer = 100000;
  nds::MpscQueue<uint64_t> queue(4);  // tiny: most pushes overflow
  std::atomic<int> finished{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&queue, &finished, p] {
      for (uint64_t i = 0; i < kPerProducer; ++i) queue.push((static_cast<uint64_t>(p) << 32) | i);
      finished.fetch_add(1);
    });
  }
  std::vector<uint64_t> next(kProducers, 0);
  uint64_t received = 0;
  bool ordered = true;
  uint64_t value = 0;
  while (received < kProducers * kPerProducer) {
    if (!queue.try_pop(&value)) {
      if (finished.load() == kProducers && queue.empty()) break;  // would mean a loss
      continue;
    }
    uint64_t p = value >> 32, i = value & 0xffffffffu;
    ordered = ordered && i == next[p];
    next[p] = i + 1;
    ++received;
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(received, kProducers * kPerProducer);
  EXPECT_TRUE(ordered);
  EXPECT_TRUE(queue.overflowed() > 0);
  EXPECT_TRUE(!queue.try_pop(&value));
}
