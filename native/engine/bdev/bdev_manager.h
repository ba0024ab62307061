// The bdev registry of one engine, owned by the app thread: registration by unique name,
// descriptors, claims, and removal that waits for every channel to go before the module
// releases its resources.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bdev/bdev.h"
#include "env/dma_region.h"

namespace nds {
namespace nvmf::auth {
class Keyring;
}

class BdevManager {
 public:
  explicit BdevManager(std::shared_ptr<DmaRegion> dma, const nvmf::auth::Keyring* keyring = nullptr)
      : dma_(std::move(dma)), keyring_(keyring) {}
  ~BdevManager();

  DmaRegion& dma() { return *dma_; }
  // The engine's keyring: the keys an nvmf URI may name (nullptr: names are not taken).
  const nvmf::auth::Keyring* keyring() const { return keyring_; }

  // Registers the bdev under its name (EEXIST if taken).
  Status add(std::unique_ptr<Bdev> bdev);
  Bdev* find(std::string_view name) const;
  // Every bdev, stacked ones after what they sit on (app thread).
  const std::vector<Bdev*>& all() const { return registration_order_; }

  Status open(std::string_view name, bool write, BdevDesc** out);
  void close(BdevDesc* desc);
  // One claim per bdev: an lvol store, a nexus or a vbdev takes its base (EBUSY if taken).
  // With `writer`, that descriptor becomes the only one that may write (others get EPERM):
  // nobody changes a pool's disk behind the pool's back.
  Status claim(Bdev* bdev, std::string owner, const BdevDesc* writer = nullptr);
  void release_claim(Bdev* bdev);
  // Marks the bdev as `owner`'s object (an lvol of a store): remove() then refuses it,
  // naming `hint`, and remove_all() leaves it to its owner, which uses remove_owned().
  void set_belongs_to(Bdev* bdev, std::string owner, std::string hint);
  void remove_owned(std::string_view name, std::function<void(Status)> done);

  // Who else holds handles on bdevs that consumers create for themselves (a nexus's child
  // from a URI): the embedding layer (JavaScript) shows such bdevs, and lets go of them
  // before their creator removes them. Both hooks run on the app thread.
  struct HolderHooks {
    std::function<void(Bdev*)> adopted;                          // created by a consumer
    std::function<void(Bdev*, std::function<void()>)> release;  // let go, then continue
  };
  void set_holder_hooks(HolderHooks hooks) { holder_hooks_ = std::move(hooks); }
  void adopted(Bdev* bdev) {
    if (holder_hooks_.adopted) holder_hooks_.adopted(bdev);
  }
  void release_holders(Bdev* bdev, std::function<void()> then) {
    if (!holder_hooks_.release) return then();
    holder_hooks_.release(bdev, std::move(then));
  }

  // Why remove() would refuse now (ENOENT, EBUSY claimed, open or being removed), or ok.
  // `own_descs` descriptors are the caller's, about to be closed, and do not count.
  Status check_removable(std::string_view name, uint32_t own_descs = 0) const;
  // Removes a bdev: ENOENT unknown, EBUSY claimed, open or already being removed. The
  // bdev's channels are drained and its module destructed before done(ok) runs.
  void remove(std::string_view name, std::function<void(Status)> done);
  // Removes every bdev that is neither claimed nor open, claimers before what they claim
  // (a claim is released when its claimer goes), until nothing removable is left.
  void remove_all(std::function<void()> done);
  // The same, for the bdevs of one module only (engine shutdown: NVMe-oF hosts first).
  void remove_all_of_module(std::string_view module, std::function<void()> done);

 private:
  void remove_now(Bdev* bdev, std::function<void(Status)> done);
  std::shared_ptr<DmaRegion> dma_;
  const nvmf::auth::Keyring* keyring_;
  HolderHooks holder_hooks_;
  std::map<std::string, std::unique_ptr<Bdev>, std::less<>> bdevs_;
  std::vector<Bdev*> registration_order_;  // stacked bdevs come after what they sit on
};

}  // namespace nds
