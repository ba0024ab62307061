#include <algorithm>
#include <cstring>
#include <set>
#include <thread>

#include "env/buffer_pool.h"
#include "env/dma_region.h"
#include "test/testing.h"

using namespace nds;

NDS_TEST(dma_region_allocates_aligned_extents_and_coalesces_on_free) {
  std::shared_ptr<DmaRegion> region;
  std::string warning;
  ASSERT_TRUE(DmaRegion::reserve(8u << 20, HugepageMode::Off, &region, &warning).is_ok());
  EXPECT_EQ(region->size(), 8ull << 20);
  EXPECT_TRUE(!region->stats().hugepages);
  void* a = region->alloc(5000);
  void* b = region->alloc(4096, 1u << 20);
  void* c = region->alloc(4096);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % (1u << 20), 0u);
  EXPECT_EQ(region->stats().used_bytes, 8192u + 4096u + 4096u);
  std::memset(a, 0xab, 5000);
  EXPECT_TRUE(region->contains(a, 5000));
  EXPECT_TRUE(!region->contains(static_cast<uint8_t*>(region->base()) + region->size() - 10, 20));
  region->free(a);
  region->free(b);
  region->free(c);
  EXPECT_EQ(region->stats().used_bytes, 0u);
  // Fully coalesced again: the whole region is one extent.
  void* all = region->alloc(8u << 20);
  EXPECT_TRUE(all == region->base());
  EXPECT_TRUE(region->alloc(4096) == nullptr);  // exhausted is nullptr, not a crash
  region->free(all);
}

NDS_TEST(dma_region_require_names_the_fix_when_hugepages_are_short) {
  std::shared_ptr<DmaRegion> region;
  std::string warning;
  // Far more than any machine here reserves.
  Status st = DmaRegion::reserve(1ull << 40, HugepageMode::Require, &region, &warning);
  EXPECT_EQ(st.rc, -ENOMEM);
  EXPECT_TRUE(st.message.find("nr_hugepages") != std::string::npos);
}

NDS_TEST(buffer_pool_caches_recycle_buffers_across_threads_without_loss) {
  std::shared_ptr<DmaRegion> region;
  std::string warning;
  ASSERT_TRUE(DmaRegion::reserve(32u << 20, HugepageMode::Off, &region, &warning).is_ok());
  BufferPool pool(region, 8192, 512);
  std::set<void*> seen;
  {
    PoolCache producer(&pool);
    PoolCache consumer(&pool);
    std::vector<void*> held;
    for (int i = 0; i < 512; ++i) {
      void* b = producer.get();
      ASSERT_TRUE(b != nullptr);
      EXPECT_TRUE(region->contains(b, 8192));
      seen.insert(b);
      held.push_back(b);
    }
    EXPECT_TRUE(producer.get() == nullptr);  // the pool's bound
    EXPECT_EQ(seen.size(), 512u);            // no buffer handed out twice
    std::thread other([&] {
      for (void* b : held) consumer.put(b);
    });
    other.join();
    // Buffers parked in the consumer's cache stay there until it spills or dies; the
    // rest are back on the shared list for the producer.
    size_t parked = consumer.cached();
    EXPECT_TRUE(parked <= BufferPool::kCacheMax);
    EXPECT_EQ(pool.free_buffers(), 512u - parked);
    std::vector<void*> again;
    for (size_t i = 0; i < 512 - parked; ++i) again.push_back(producer.get());
    EXPECT_TRUE(std::find(again.begin(), again.end(), nullptr) == again.end());
    EXPECT_TRUE(producer.get() == nullptr);
    for (void* b : again) producer.put(b);
  }
  // Both caches returned everything on destruction.
  EXPECT_EQ(pool.total_buffers(), 512u);
  EXPECT_EQ(pool.free_buffers(), 512u);
}
