// Cluster allocation for thin lvols: a write to a cluster the lvol does not own asks the app
// thread, which fills the cluster (zeroes, or the ancestor's data), commits the map change
// and answers everyone waiting on that cluster.
#include "lvol/lvol_store.h"

#include <cstring>

#include "lvol/store_internal.h"
#include "thread/thread.h"
#include "util/async_loop.h"

namespace nds::lvs {

using namespace detail;

void LvolStore::fill_clusters(std::vector<std::pair<uint32_t, uint32_t>> work, std::function<void(int)> done) {
  // Each new cluster is written whole before anything refers to it: zeroes, or a copy of
  // its source cluster. Then one flush, so the contents are durable before the metadata.
  if (work.empty()) return done(0);
  const uint64_t c = cluster_size();
  struct Fill {
    std::vector<std::pair<uint32_t, uint32_t>> work;
    size_t next = 0;
    int status = 0;
    std::shared_ptr<uint8_t> buf;
    std::function<void(int)> done;
  };
  auto fill = std::make_shared<Fill>();
  fill->work = std::move(work);
  fill->done = std::move(done);
  async_loop([this, fill, c](const auto& step) {
    if (fill->status != 0 || fill->next == fill->work.size()) {
      if (fill->status != 0) return fill->done(fill->status);
      return io_.flush(fill->done);
    }
    // Plain variables, not a structured binding: the lambdas below capture them (clang
    // before 16, which builds the fuzz targets, cannot capture bindings).
    const auto target = fill->work[fill->next].first;
    const auto source = fill->work[fill->next].second;
    ++fill->next;
    if (source == 0) {
      return io_.submit(IoType::WriteZeroes, data_offset(target), c, nullptr, [fill, step](int rc) {
        if (rc) fill->status = rc;
        step();
      });
    }
    if (!fill->buf) fill->buf = io_.buffer(c);
    if (!fill->buf) {
      fill->status = -ENOMEM;
      return step();
    }
    io_.submit(IoType::Read, data_offset(source - 1), c, fill->buf.get(), [this, fill, step, target, c](int rc) {
      if (rc) {
        fill->status = rc;
        return step();
      }
      io_.submit(IoType::Write, data_offset(target), c, fill->buf.get(), [fill, step](int rc2) {
        if (rc2) fill->status = rc2;
        step();
      });
    });
  });
}

void LvolStore::request_allocation(uint64_t blob, uint64_t index, std::function<void(int)> done) {
  Thread* origin = Thread::current();
  auto back = [origin, done = std::move(done)](int rc) { origin->send([done, rc] { done(rc); }); };
  app_thread_->send([this, blob, index, back] {
    auto lvol_it = lvols_.find(blob);
    if (closing_ || lvol_it == lvols_.end()) return back(-ENODEV);
    Lvol* lvol = lvol_it->second.get();
    if (lvol->rec.read_only) return back(-EROFS);
    if (index >= lvol->rec.size_clusters) return back(-EINVAL);
    if (lvol->map->get(index)) return back(0);
    // Writes racing to the same new cluster share one allocation.
    auto& pending = allocating_[{blob, index}];
    pending.push_back(back);
    if (pending.size() == 1) allocate_now(blob, index);
  });
}

void LvolStore::settle_allocation(uint64_t blob, uint64_t index, int status) {
  auto it = allocating_.find({blob, index});
  if (it == allocating_.end()) return;
  auto waiters = std::move(it->second);
  allocating_.erase(it);
  for (auto& w : waiters) w(status);
}

void LvolStore::allocate_now(uint64_t blob, uint64_t index) {
  Lvol* lvol = lvols_.at(blob).get();
  uint32_t cluster = take_free_cluster();
  if (cluster == UINT32_MAX) return settle_allocation(blob, index, -ENOSPC);
  uint32_t source = resolve(lvol, index);  // copy-on-write from the nearest ancestor, if any
  fill_clusters({{cluster, source}}, [this, blob, index, cluster](int rc) {
    auto it = lvols_.find(blob);
    if (rc != 0 || it == lvols_.end()) {
      return_cluster(cluster);
      return settle_allocation(blob, index, rc != 0 ? rc : -ENODEV);
    }
    Lvol* l = it->second.get();
    std::vector<uint64_t> pages;
    if (!set_cluster(l, index, cluster + 1, &pages, false)) {
      return_cluster(cluster);
      return settle_allocation(blob, index, -ENOSPC);
    }
    // Only once the mapping is durable does the I/O path see it.
    log_.commit(pages, [this, blob, index, cluster](int crc) {
      auto found = lvols_.find(blob);
      if (crc == 0 && found != lvols_.end()) found->second->map->set(index, cluster + 1);
      settle_allocation(blob, index, crc);
    });
  });
}

}  // namespace nds::lvs
