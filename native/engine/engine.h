// The engine: reactors on the configured cores, the app thread (reactor 0) that owns all
// management state, one worker thread per reactor for I/O from outside (JavaScript,
// benchmark jobs), the DMA region and its buffer pools, and the bdev registry.
// This is the public face of native/engine for the binding; no napi.h below this line.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bdev/bdev_manager.h"
#include "env/buffer_pool.h"
#include "env/dma_region.h"
#include "lvol/lvol_store.h"
#include "nexus/nexus_service.h"
#include "nvmf/auth/keyring.h"
#include "nvmf/target/target_service.h"
#include "thread/reactor.h"
#include "thread/thread.h"

namespace nds {

struct EngineOptions {
  std::vector<int> cores{0};
  uint64_t memory_bytes = 256ull << 20;
  HugepageMode hugepages = HugepageMode::Auto;
  IdleMode idle = IdleMode::Adaptive;
};

class Engine {
 public:
  static constexpr size_t kSmallBufferSize = 8 * 1024;
  static constexpr size_t kLargeBufferSize = 128 * 1024;

  // Reserves memory and starts the reactors. On an Auto fallback *warning is set.
  static Status start(const EngineOptions& options, std::unique_ptr<Engine>* out, std::string* warning);
  // Stops reactors if still running. Call shutdown() first for an orderly stop.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  size_t reactor_count() const { return reactors_.size(); }
  const Reactor& reactor(size_t i) const { return *reactors_[i]; }
  Thread& app_thread() { return *app_thread_; }
  Thread& worker(size_t reactor_index) { return *workers_[reactor_index]; }

  DmaRegion& dma() { return *dma_; }
  const std::shared_ptr<DmaRegion>& dma_shared() const { return dma_; }
  BufferPool& small_buffers() { return *small_buffers_; }
  BufferPool& large_buffers() { return *large_buffers_; }
  BdevManager& bdevs() { return *bdevs_; }  // app thread only
  lvs::LvolStoreRegistry& pools() { return *pools_; }  // app thread only
  nvmf::TargetService& nvmf() { return *nvmf_; }       // app thread only
  nexus::NexusService& nexuses() { return *nexuses_; }  // app thread only
  nvmf::auth::Keyring& keyring() { return *keyring_; }  // any thread

  // Sends to the app thread: stops the NVMe-oF target, destroys every nexus, exports every
  // pool (cleanly), removes every bdev, then runs done there.
  void shutdown(std::function<void()> done);
  // The same, from the app thread.
  void shutdown_here(std::function<void()> done);
  // Leaves the reactor loops and joins their OS threads. Not from a reactor.
  void stop_reactors();

 private:
  Engine() = default;
  std::shared_ptr<DmaRegion> dma_;
  std::unique_ptr<nvmf::auth::Keyring> keyring_;  // before bdevs_, which points at it
  std::unique_ptr<BufferPool> small_buffers_;
  std::unique_ptr<BufferPool> large_buffers_;
  std::unique_ptr<BdevManager> bdevs_;
  std::unique_ptr<lvs::LvolStoreRegistry> pools_;
  std::vector<std::unique_ptr<Reactor>> reactors_;
  std::unique_ptr<Thread> app_thread_;
  std::vector<std::unique_ptr<Thread>> workers_;
  std::vector<std::unique_ptr<Thread>> nvmf_groups_;  // NVMe-oF poll groups, one per reactor
  std::unique_ptr<nvmf::TargetService> nvmf_;
  std::unique_ptr<nexus::NexusService> nexuses_;
};

}  // namespace nds
