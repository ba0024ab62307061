#include "engine.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <set>

#include "env/cpu.h"

namespace nds {

Status Engine::start(const EngineOptions& options, std::unique_ptr<Engine>* out, std::string* warning) {
  if (options.cores.empty()) return Status::error(-EINVAL, "at least one core is required");
  // OpenSSL (NVMe-oF authentication) without its exit-time cleanup: a process may exit with
  // reactors still running, and a cleanup run before them would pull their per-thread state
  // away under them. Its memory goes with the process.
  OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
  std::vector<int> available = available_cores();
  std::set<int> seen;
  for (int core : options.cores) {
    if (std::find(available.begin(), available.end(), core) == available.end())
      return Status::error(-EINVAL, "core " + std::to_string(core) + " is not available to this process");
    if (!seen.insert(core).second) return Status::error(-EINVAL, "core " + std::to_string(core) + " is listed twice");
  }
  std::unique_ptr<Engine> engine(new Engine());
  Status st = DmaRegion::reserve(options.memory_bytes, options.hugepages, &engine->dma_, warning);
  if (!st.is_ok()) return st;
  uint64_t region = engine->dma_->size();
  // Pools may take up to a quarter of the region each; the rest is for bdevs and
  // zero-copy buffers. They carve lazily, so unused pool space stays free.
  engine->small_buffers_ = std::make_unique<BufferPool>(engine->dma_, kSmallBufferSize, region / 4 / kSmallBufferSize);
  engine->large_buffers_ = std::make_unique<BufferPool>(engine->dma_, kLargeBufferSize, region / 4 / kLargeBufferSize);
  engine->keyring_ = std::make_unique<nvmf::auth::Keyring>();
  engine->bdevs_ = std::make_unique<BdevManager>(engine->dma_, engine->keyring_.get());
  engine->pools_ = std::make_unique<lvs::LvolStoreRegistry>(*engine->bdevs_, *engine->dma_);

  engine->app_thread_ = std::make_unique<Thread>("app");
  for (size_t i = 0; i < options.cores.size(); ++i) {
    engine->reactors_.push_back(std::make_unique<Reactor>(static_cast<uint32_t>(i), options.cores[i], options.idle));
    engine->workers_.push_back(std::make_unique<Thread>("worker-" + std::to_string(i)));
    engine->nvmf_groups_.push_back(std::make_unique<Thread>("nvmf-group-" + std::to_string(i)));
  }
  engine->reactors_[0]->schedule(engine->app_thread_.get());
  std::vector<Thread*> groups;
  for (size_t i = 0; i < options.cores.size(); ++i) {
    engine->reactors_[i]->schedule(engine->workers_[i].get());
    engine->reactors_[i]->schedule(engine->nvmf_groups_[i].get());
    groups.push_back(engine->nvmf_groups_[i].get());
  }
  engine->nvmf_ = std::make_unique<nvmf::TargetService>(*engine->bdevs_, *engine->app_thread_, std::move(groups),
                                                        engine->small_buffers_.get(), engine->large_buffers_.get());
  engine->nexuses_ = std::make_unique<nexus::NexusService>(*engine->bdevs_, engine->app_thread_.get());
  for (auto& reactor : engine->reactors_) {
    st = reactor->start();
    if (!st.is_ok()) {
      engine->stop_reactors();
      return st;
    }
  }
  *out = std::move(engine);
  return Status::ok();
}

Engine::~Engine() {
  stop_reactors();
  // Pools before the bdevs they use; bdevs while the threads that may still hold their
  // channels exist; memory last.
  nvmf_.reset();
  nexuses_.reset();
  pools_.reset();
  bdevs_.reset();
  workers_.clear();
  nvmf_groups_.clear();
  app_thread_.reset();
  small_buffers_.reset();
  large_buffers_.reset();
}

void Engine::shutdown(std::function<void()> done) {
  app_thread_->send([this, done = std::move(done)]() mutable { shutdown_here(std::move(done)); });
}

void Engine::shutdown_here(std::function<void()> done) {
  // Consumers before what they consume: nexuses (their I/O settles, their own children
  // go), then NVMe-oF host bdevs while the targets they may reach (this engine's own among
  // them) still answer, then the target, then pools, then every other bdev.
  nexuses_->destroy_all([this, done = std::move(done)]() mutable {
    bdevs_->remove_all_of_module("nvmf", [this, done = std::move(done)]() mutable {
      nvmf_->shutdown([this, done = std::move(done)]() mutable {
        pools_->export_all([this, done = std::move(done)]() mutable { bdevs_->remove_all(std::move(done)); });
      });
    });
  });
}

void Engine::stop_reactors() {
  for (auto& reactor : reactors_) reactor->stop();
}

}  // namespace nds
