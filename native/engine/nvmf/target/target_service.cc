#include "nvmf/target/target_service.h"

#include <cstring>

#include "nvmf/target/bdev_namespace.h"

namespace nds::nvmf {

TargetService::TargetService(BdevManager& bdevs, Thread& app, std::vector<Thread*> groups, BufferPool* small,
                             BufferPool* large)
    : bdevs_(bdevs), app_(app), transport_(target_, app, std::move(groups), small, large) {}

void TargetService::release(std::vector<std::shared_ptr<const NamespaceEntry>> entries, std::function<void()> done) {
  auto remaining = std::make_shared<size_t>(entries.size() + 1);
  auto finished = std::make_shared<std::function<void()>>(std::move(done));
  auto one_done = [remaining, finished] {
    if (--*remaining == 0) (*finished)();
  };
  for (auto& e : entries) static_cast<BdevNamespace&>(*e->ns).set_on_closed(one_done);
  entries.clear();  // connections that still use them hold the last references
  // Idle connections let go now rather than at their next I/O.
  transport_.refresh(one_done);
}

void TargetService::destroy_subsystem(const std::string& nqn, std::function<void(Status)> done) {
  std::vector<std::shared_ptr<const NamespaceEntry>> removed;
  std::vector<ListenerAddress> listeners;
  Status st = target_.remove_subsystem(nqn, &removed, &listeners);
  if (!st.is_ok()) return done(st);
  for (auto& l : listeners)
    if (!target_.listener_in_use(l)) transport_.stop_listening(l);
  release(std::move(removed), [done] { done(Status::ok()); });
}

Status TargetService::add_namespace(const std::string& nqn, const NamespaceOptions& options, uint32_t* nsid) {
  std::shared_ptr<BdevNamespace> ns;
  if (!target_.has_subsystem(nqn)) return Status::error(-ENOENT, "subsystem " + nqn + " does not exist");
  Status st = BdevNamespace::open(bdevs_, app_, options.bdev_name, "NVMe-oF subsystem " + nqn, &ns);
  if (!st.is_ok()) return st;
  NamespaceEntry entry;
  entry.nsid = options.nsid;
  entry.bdev_name = options.bdev_name;
  const Uuid& id = ns->bdev().uuid();
  if (options.has_uuid) {
    entry.uuid = options.uuid;
  } else {
    std::memcpy(entry.uuid.data(), id.bytes.data(), 16);
  }
  entry.nguid = options.has_nguid ? options.nguid : entry.uuid;
  entry.ns = ns;
  return target_.add_namespace(nqn, std::move(entry), nsid);
  // On failure `ns` goes out of scope here and closes the descriptor.
}

void TargetService::remove_namespace(const std::string& nqn, uint32_t nsid, std::function<void(Status)> done) {
  std::shared_ptr<const NamespaceEntry> removed;
  Status st = target_.remove_namespace(nqn, nsid, &removed);
  if (!st.is_ok()) return done(st);
  release({std::move(removed)}, [done] { done(Status::ok()); });
}

Status TargetService::add_listener(const std::string& nqn, ListenerAddress* address, bool secure_channel) {
  if (!target_.has_subsystem(nqn)) return Status::error(-ENOENT, "subsystem " + nqn + " does not exist");
  bool opened = false;
  if (address->port == 0 || !transport_.listening(*address)) {
    Status st = transport_.listen(address);
    if (!st.is_ok()) return st;
    opened = true;
  }
  Status st = target_.add_listener(nqn, *address, secure_channel);
  if (!st.is_ok() && opened) transport_.stop_listening(*address);
  return st;
}

Status TargetService::remove_listener(const std::string& nqn, const ListenerAddress& address) {
  Status st = target_.remove_listener(nqn, address);
  if (st.is_ok() && !target_.listener_in_use(address)) transport_.stop_listening(address);
  return st;
}

Status TargetService::set_ana_state(const std::string& nqn, const ListenerAddress& address, AnaState state) {
  Status st = target_.set_ana_state(nqn, address, state);
  if (st.is_ok()) transport_.refresh([] {});  // I/O queues see the new state at once
  return st;
}

void TargetService::shutdown(std::function<void()> done) {
  target_.fail_all_controllers();
  transport_.shutdown([this, done = std::move(done)]() mutable { release(target_.clear(), std::move(done)); });
}

}  // namespace nds::nvmf
