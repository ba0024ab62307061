#include "bdev/bdev_manager.h"

#include "thread/io_device.h"

namespace nds {

int bdev_channel_create(void* io_device, void* ctx);
void bdev_channel_destroy(void* io_device, void* ctx);

BdevManager::~BdevManager() {
  // Bdevs left at teardown (still claimed or open) lose their channels here, after the
  // reactors have stopped, so nothing stays registered under a freed address. Newest
  // first: a stacked bdev's channels refer to its base's.
  for (auto it = registration_order_.rbegin(); it != registration_order_.rend(); ++it) io_device_forget(*it);
}

Status BdevManager::add(std::unique_ptr<Bdev> bdev) {
  if (bdevs_.count(bdev->name())) return Status::error(-EEXIST, "bdev " + bdev->name() + " already exists");
  io_device_register(bdev.get(), bdev_channel_create, bdev_channel_destroy, sizeof(BdevChannel),
                     "bdev:" + bdev->name());
  std::string name = bdev->name();
  registration_order_.push_back(bdev.get());
  bdevs_.emplace(std::move(name), std::move(bdev));
  return Status::ok();
}

Bdev* BdevManager::find(std::string_view name) const {
  auto it = bdevs_.find(name);
  return it == bdevs_.end() || it->second->removing_ ? nullptr : it->second.get();
}

Status BdevManager::open(std::string_view name, bool write, BdevDesc** out) {
  Bdev* bdev = find(name);
  if (!bdev) return Status::error(-ENOENT, "bdev " + std::string(name) + " does not exist");
  ++bdev->open_descs_;
  *out = new BdevDesc{bdev, write};
  return Status::ok();
}

void BdevManager::close(BdevDesc* desc) {
  --desc->bdev->open_descs_;
  delete desc;
}

Status BdevManager::claim(Bdev* bdev, std::string owner, const BdevDesc* writer) {
  if (!bdev->claimed_by_.empty())
    return Status::error(-EBUSY, "bdev " + bdev->name() + " is already claimed by " + bdev->claimed_by_);
  bdev->claimed_by_ = std::move(owner);
  bdev->exclusive_writer_.store(writer, std::memory_order_relaxed);
  return Status::ok();
}

void BdevManager::release_claim(Bdev* bdev) {
  bdev->claimed_by_.clear();
  bdev->exclusive_writer_.store(nullptr, std::memory_order_relaxed);
}

void BdevManager::set_belongs_to(Bdev* bdev, std::string owner, std::string hint) {
  bdev->belongs_to_ = std::move(owner);
  bdev->destroy_hint_ = std::move(hint);
}

Status BdevManager::check_removable(std::string_view name, uint32_t own_descs) const {
  auto it = bdevs_.find(name);
  if (it == bdevs_.end() || it->second->removing_)
    return Status::error(-ENOENT, "bdev " + std::string(name) + " does not exist");
  const Bdev& bdev = *it->second;
  if (!bdev.belongs_to_.empty())
    return Status::error(-EBUSY, "bdev " + bdev.name() + " belongs to " + bdev.belongs_to_ + ": destroy it with " +
                                     bdev.destroy_hint_);
  if (!bdev.claimed_by_.empty()) return Status::error(-EBUSY, "bdev " + bdev.name() + " is claimed by " + bdev.claimed_by_);
  if (bdev.open_descs_ > own_descs)
    return Status::error(-EBUSY, "bdev " + bdev.name() + " is open (" + std::to_string(bdev.open_descs_ - own_descs) +
                                     " descriptors besides the caller's)");
  return Status::ok();
}

void BdevManager::remove(std::string_view name, std::function<void(Status)> done) {
  auto it = bdevs_.find(name);
  Status st = check_removable(name);
  if (!st.is_ok()) return done(st);
  remove_now(it->second.get(), std::move(done));
}

void BdevManager::remove_owned(std::string_view name, std::function<void(Status)> done) {
  auto it = bdevs_.find(name);
  if (it == bdevs_.end() || it->second->removing_) return done(Status::error(-ENOENT, "bdev " + std::string(name) + " does not exist"));
  Bdev* bdev = it->second.get();
  // The owner lets go first; a claim or an open descriptor still refuses.
  std::string owner = std::move(bdev->belongs_to_), hint = std::move(bdev->destroy_hint_);
  bdev->belongs_to_.clear();
  bdev->destroy_hint_.clear();
  Status st = check_removable(name);
  if (!st.is_ok()) {
    set_belongs_to(bdev, std::move(owner), std::move(hint));
    return done(st);
  }
  remove_now(bdev, std::move(done));
}

void BdevManager::remove_now(Bdev* bdev, std::function<void(Status)> done) {
  bdev->removing_ = true;
  io_device_unregister(bdev, [this, bdev, done = std::move(done)]() mutable {
    bdev->destruct([this, bdev, done = std::move(done)] {
      std::erase(registration_order_, bdev);
      auto found = bdevs_.find(bdev->name());
      bdevs_.erase(found);
      done(Status::ok());
    });
  });
}

void BdevManager::remove_all(std::function<void()> done) { remove_all_of_module({}, std::move(done)); }

void BdevManager::remove_all_of_module(std::string_view module, std::function<void()> done) {
  for (auto& [name, bdev] : bdevs_) {
    if (bdev->removing_ || !bdev->claimed_by_.empty() || !bdev->belongs_to_.empty() || bdev->open_descs_ > 0) continue;
    if (!module.empty() && module != bdev->module_name()) continue;
    // Each removal completes asynchronously and may release a claim, so look again after it.
    remove(name, [this, module, done = std::move(done)](Status) mutable { remove_all_of_module(module, std::move(done)); });
    return;
  }
  done();
}

}  // namespace nds
