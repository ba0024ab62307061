#include "nexus/nexus_child.h"

#include "bdev/bdev_factory.h"
#include "util/uri.h"

namespace nds::nexus {
namespace {

void claim_opened(BdevManager& manager, Bdev* bdev, const std::string& claimer, bool owned,
                  const std::function<void(Status, BdevDesc*, bool)>& done) {
  BdevDesc* desc = nullptr;
  Status st = manager.open(bdev->name(), true, &desc);
  if (!st.is_ok()) return done(st, nullptr, owned);
  if (!(st = manager.claim(bdev, claimer, desc)).is_ok()) {
    manager.close(desc);
    if (owned) manager.remove(bdev->name(), [](Status) {});
    return done(st, nullptr, owned);
  }
  done(Status::ok(), desc, owned);
}

}  // namespace

void open_child_bdev(BdevManager& manager, const std::string& uri, const std::string& claimer,
                     std::function<void(Status, BdevDesc*, bool owned)> done) {
  Uri parsed;
  Status st = parse_uri(uri, &parsed);
  if (!st.is_ok()) return done(st, nullptr, false);
  if (parsed.scheme == "bdev") {
    if (!parsed.host.empty() || !parsed.query.params.empty())
      return done(Status::error(-EINVAL, "child URI '" + uri + "' must be bdev:///<name>"), nullptr, false);
    Bdev* bdev = manager.find(parsed.path);
    if (!bdev) return done(Status::error(-ENOENT, "bdev " + parsed.path + " does not exist (child " + uri + ")"), nullptr, false);
    return claim_opened(manager, bdev, claimer, false, done);
  }
  create_bdev_from_uri(manager, uri, [&manager, claimer, done = std::move(done)](Status created, Bdev* bdev) {
    if (!created.is_ok()) return done(created, nullptr, true);
    claim_opened(manager, bdev, claimer, true, [&manager, done](Status claimed, BdevDesc* desc, bool owned) {
      if (claimed.is_ok()) manager.adopted(desc->bdev);  // shown by the embedding layer (listBdevs)
      done(claimed, desc, owned);
    });
  });
}

void close_child_bdev(BdevManager& manager, BdevDesc* desc, bool owned, std::function<void()> done) {
  Bdev* bdev = desc->bdev;
  std::string name = bdev->name();
  auto close = [&manager, bdev, desc, name, owned, done = std::move(done)]() mutable {
    manager.release_claim(bdev);
    manager.close(desc);
    if (!owned) return done();
    manager.remove(name, [done = std::move(done)](Status) { done(); });
  };
  if (!owned) return close();
  manager.release_holders(bdev, std::move(close));  // others' handles go first
}

}  // namespace nds::nexus
