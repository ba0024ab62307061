#include "nvmf/target/target.h"

#include <algorithm>
#include <cctype>

namespace nds::nvmf {

const char* ana_state_name(AnaState state) {
  switch (state) {
    case AnaState::Optimized: return "optimized";
    case AnaState::NonOptimized: return "non_optimized";
    case AnaState::Inaccessible: return "inaccessible";
  }
  return "unknown";
}

namespace {

// NQN rules of the base specification: at most 223 bytes, "nqn.yyyy-mm.<reversed domain>"
// optionally followed by ":<anything>", or the UUID form.
bool valid_nqn(const std::string& nqn) {
  if (nqn.size() < 12 || nqn.size() > 223 || nqn.compare(0, 4, "nqn.") != 0) return false;
  for (int i : {4, 5, 6, 7, 9, 10})
    if (!std::isdigit(static_cast<unsigned char>(nqn[i]))) return false;
  if (nqn[8] != '-' || nqn[11] != '.') return false;
  for (char c : nqn)
    if (c < 0x21 || c > 0x7e) return false;
  return nqn.size() > 12;
}

bool printable(const std::string& text, size_t max) {
  if (text.empty() || text.size() > max) return false;
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

Status missing(const std::string& nqn) { return Status::error(-ENOENT, "subsystem " + nqn + " does not exist"); }

}  // namespace

bool Target::host_allowed(const Subsystem& sub, const std::string& hostnqn) {
  const auto& hosts = sub.options.hosts;
  return sub.options.allow_any_host || std::find(hosts.begin(), hosts.end(), hostnqn) != hosts.end();
}

AnaState Target::ana_state_locked(const Subsystem& sub, const ListenerAddress& via) {
  for (auto& l : sub.listeners)
    if (l.address == via) return l.ana;
  return AnaState::Inaccessible;  // not listening there (any more)
}

Status Target::add_subsystem(SubsystemOptions options) {
  if (!valid_nqn(options.nqn) || options.nqn == kDiscoveryNqn)
    return Status::error(-EINVAL, "invalid subsystem NQN '" + options.nqn +
                                      "': expected nqn.yyyy-mm.reverse.domain[:name], at most 223 bytes");
  if (!printable(options.serial, 20)) return Status::error(-EINVAL, "serial must be 1-20 printable ASCII characters");
  if (!printable(options.model, 40)) return Status::error(-EINVAL, "model must be 1-40 printable ASCII characters");
  if (options.max_namespaces < 1 || options.max_namespaces > 1024)
    return Status::error(-EINVAL, "maxNamespaces must be 1-1024");
  for (auto& h : options.hosts)
    if (!valid_nqn(h)) return Status::error(-EINVAL, "invalid host NQN '" + h + "'");
  std::lock_guard lock(mutex_);
  if (subsystems_.count(options.nqn)) return Status::error(-EEXIST, "subsystem " + options.nqn + " already exists");
  auto sub = std::make_shared<Subsystem>();
  std::string nqn = options.nqn;
  sub->options = std::move(options);
  subsystems_[nqn] = std::move(sub);
  return Status::ok();
}

Status Target::remove_subsystem(const std::string& nqn, std::vector<std::shared_ptr<const NamespaceEntry>>* removed,
                                std::vector<ListenerAddress>* listeners) {
  std::lock_guard lock(mutex_);
  auto it = subsystems_.find(nqn);
  if (it == subsystems_.end()) return missing(nqn);
  Subsystem* sub = it->second.get();
  fail_locked([sub](const Controller& c) { return c.subsystem.get() == sub; });
  for (auto& e : *sub->table)
    if (e) removed->push_back(e);
  sub->table = std::make_shared<NamespaceTable>();
  sub->generation.fetch_add(1);
  for (auto& l : sub->listeners) listeners->push_back(l.address);
  subsystems_.erase(it);
  for (auto& address : *listeners) {
    notify_locked([&](const Controller& c) { return !c.subsystem && c.listener == address; }, AsyncEvent::DiscoveryLogChange);
  }
  return Status::ok();
}

Status Target::add_namespace(const std::string& nqn, NamespaceEntry entry, uint32_t* assigned) {
  std::lock_guard lock(mutex_);
  auto it = subsystems_.find(nqn);
  if (it == subsystems_.end()) return missing(nqn);
  Subsystem& sub = *it->second;
  const NamespaceTable& old = *sub.table;
  uint32_t max = sub.options.max_namespaces;
  uint32_t nsid = entry.nsid;
  if (nsid == 0) {
    for (uint32_t i = 1; i <= max && nsid == 0; ++i)
      if (i > old.size() || !old[i - 1]) nsid = i;
    if (nsid == 0) return Status::error(-ENOSPC, "subsystem " + nqn + " already has " + std::to_string(max) + " namespaces");
  } else if (nsid > max) {
    return Status::error(-EINVAL, "nsid " + std::to_string(nsid) + " is above maxNamespaces " + std::to_string(max));
  } else if (nsid <= old.size() && old[nsid - 1]) {
    return Status::error(-EEXIST, "nsid " + std::to_string(nsid) + " is already used in " + nqn);
  }
  for (auto& e : old)
    if (e && (e->uuid == entry.uuid || e->nguid == entry.nguid))
      return Status::error(-EEXIST, "namespace UUID/NGUID already used in " + nqn);
  auto table = std::make_shared<NamespaceTable>(old);
  if (table->size() < nsid) table->resize(nsid);
  entry.nsid = nsid;
  (*table)[nsid - 1] = std::make_shared<const NamespaceEntry>(std::move(entry));
  sub.table = std::move(table);
  sub.generation.fetch_add(1);
  *assigned = nsid;
  Subsystem* s = &sub;
  notify_locked([s](const Controller& c) { return c.subsystem.get() == s; }, AsyncEvent::NamespaceAttributeChanged, nsid);
  return Status::ok();
}

Status Target::remove_namespace(const std::string& nqn, uint32_t nsid, std::shared_ptr<const NamespaceEntry>* removed) {
  std::lock_guard lock(mutex_);
  auto it = subsystems_.find(nqn);
  if (it == subsystems_.end()) return missing(nqn);
  Subsystem& sub = *it->second;
  if (nsid == 0 || nsid > sub.table->size() || !(*sub.table)[nsid - 1])
    return Status::error(-ENOENT, "namespace " + std::to_string(nsid) + " does not exist in " + nqn);
  auto table = std::make_shared<NamespaceTable>(*sub.table);
  *removed = (*table)[nsid - 1];
  (*table)[nsid - 1] = nullptr;
  while (!table->empty() && !table->back()) table->pop_back();
  sub.table = std::move(table);
  sub.generation.fetch_add(1);
  Subsystem* s = &sub;
  notify_locked([s](const Controller& c) { return c.subsystem.get() == s; }, AsyncEvent::NamespaceAttributeChanged, nsid);
  return Status::ok();
}

Status Target::add_listener(const std::string& nqn, const ListenerAddress& address, bool secure_channel) {
  std::lock_guard lock(mutex_);
  auto it = subsystems_.find(nqn);
  if (it == subsystems_.end()) return missing(nqn);
  auto& ls = it->second->listeners;
  if (std::any_of(ls.begin(), ls.end(), [&](auto& l) { return l.address == address; }))
    return Status::error(-EEXIST, nqn + " already listens on " + address.text());
  ls.push_back({address, AnaState::Optimized, secure_channel});
  it->second->generation.fetch_add(1);
  notify_locked([&](const Controller& c) { return !c.subsystem && c.listener == address; }, AsyncEvent::DiscoveryLogChange);
  return Status::ok();
}

Status Target::remove_listener(const std::string& nqn, const ListenerAddress& address) {
  std::lock_guard lock(mutex_);
  auto it = subsystems_.find(nqn);
  if (it == subsystems_.end()) return missing(nqn);
  Subsystem* sub = it->second.get();
  auto& ls = sub->listeners;
  auto l = std::find_if(ls.begin(), ls.end(), [&](auto& x) { return x.address == address; });
  if (l == ls.end()) return Status::error(-ENOENT, nqn + " does not listen on " + address.text());
  ls.erase(l);
  sub->generation.fetch_add(1);
  // Hosts that came in through this listener lose their controllers, as with a port going away.
  fail_locked([&](const Controller& c) { return c.subsystem.get() == sub && c.listener == address; });
  notify_locked([&](const Controller& c) { return !c.subsystem && c.listener == address; }, AsyncEvent::DiscoveryLogChange);
  return Status::ok();
}

Status Target::add_host(const std::string& nqn, const std::string& host) {
  if (!valid_nqn(host)) return Status::error(-EINVAL, "invalid host NQN '" + host + "'");
  std::lock_guard lock(mutex_);
  auto it = subsystems_.find(nqn);
  if (it == subsystems_.end()) return missing(nqn);
  auto& hosts = it->second->options.hosts;
  if (std::find(hosts.begin(), hosts.end(), host) != hosts.end())
    return Status::error(-EEXIST, "host " + host + " is already allowed on " + nqn);
  hosts.push_back(host);
  return Status::ok();
}

Status Target::set_allow_any_host(const std::string& nqn, bool allow) {
  std::lock_guard lock(mutex_);  // connect reads it under the same mutex
  auto it = subsystems_.find(nqn);
  if (it == subsystems_.end()) return missing(nqn);
  Subsystem* sub = it->second.get();
  sub->options.allow_any_host = allow;
  // Closing the subsystem to unlisted hosts ends their live connections now, as removing
  // a host does: fencing relies on it.
  if (!allow) {
    const auto& hosts = sub->options.hosts;
    fail_locked([&](const Controller& c) {
      return c.subsystem.get() == sub && std::find(hosts.begin(), hosts.end(), c.hostnqn) == hosts.end();
    });
  }
  return Status::ok();
}

Status Target::remove_host(const std::string& nqn, const std::string& host) {
  std::lock_guard lock(mutex_);
  auto it = subsystems_.find(nqn);
  if (it == subsystems_.end()) return missing(nqn);
  Subsystem* sub = it->second.get();
  auto& hosts = sub->options.hosts;
  auto h = std::find(hosts.begin(), hosts.end(), host);
  if (h == hosts.end()) return Status::error(-ENOENT, "host " + host + " is not on the list of " + nqn);
  hosts.erase(h);
  sub->host_keys.erase(host);  // the keys go with it (wiped once no queue holds them)
  sub->host_psks.erase(host);
  // A host taken off the list loses access now, not at its next reconnect.
  if (!sub->options.allow_any_host)
    fail_locked([&](const Controller& c) { return c.subsystem.get() == sub && c.hostnqn == host; });
  return Status::ok();
}

Status Target::set_ana_state(const std::string& nqn, const ListenerAddress& address, AnaState state) {
  std::lock_guard lock(mutex_);
  auto it = subsystems_.find(nqn);
  if (it == subsystems_.end()) return missing(nqn);
  Subsystem* sub = it->second.get();
  for (auto& l : sub->listeners) {
    if (!(l.address == address)) continue;
    if (l.ana != state) {
      l.ana = state;
      ++sub->ana_change_count;
      sub->generation.fetch_add(1);
      notify_locked([&](const Controller& c) { return c.subsystem.get() == sub && c.listener == address; },
                    AsyncEvent::AnaChange);
    }
    return Status::ok();
  }
  return Status::error(-ENOENT, nqn + " does not listen on " + address.text());
}

std::vector<SubsystemInfo> Target::list() const {
  std::lock_guard lock(mutex_);
  std::vector<SubsystemInfo> out;
  for (auto& [nqn, sub] : subsystems_) {
    SubsystemInfo info;
    info.options = sub->options;
    info.listeners = sub->listeners;
    for (auto& e : *sub->table) {
      if (!e) continue;
      info.namespaces.emplace_back(e->nsid, e->bdev_name);
      info.namespace_ids.emplace_back(e->uuid, e->nguid);
    }
    for (auto& [id, c] : controllers_) {
      if (c->subsystem != sub) continue;
      ++info.controllers;
      info.controller_list.push_back({c->cntlid, c->hostnqn, c->listener, {c->io_queues_connected.begin(), c->io_queues_connected.end()}});
    }
    out.push_back(std::move(info));
  }
  return out;
}

bool Target::has_subsystem(const std::string& nqn) const {
  std::lock_guard lock(mutex_);
  return subsystems_.count(nqn) > 0;
}

bool Target::listener_in_use(const ListenerAddress& address) const {
  std::lock_guard lock(mutex_);
  for (auto& [nqn, sub] : subsystems_)
    for (auto& l : sub->listeners)
      if (l.address == address) return true;
  return false;
}

void Target::fail_all_controllers() {
  std::lock_guard lock(mutex_);
  fail_locked([](const Controller&) { return true; });
}

std::vector<std::shared_ptr<const NamespaceEntry>> Target::clear() {
  std::lock_guard lock(mutex_);
  fail_locked([](const Controller&) { return true; });
  std::vector<std::shared_ptr<const NamespaceEntry>> out;
  for (auto& [nqn, sub] : subsystems_) {
    for (auto& e : *sub->table)
      if (e) out.push_back(e);
    sub->table = std::make_shared<NamespaceTable>();
    sub->generation.fetch_add(1);
  }
  subsystems_.clear();
  return out;
}

std::shared_ptr<Subsystem> Target::find_locked(const std::string& nqn) const {
  auto it = subsystems_.find(nqn);
  return it == subsystems_.end() ? nullptr : it->second;
}

std::shared_ptr<Controller> Target::controller_locked(uint16_t cntlid) const {
  auto it = controllers_.find(cntlid);
  return it == controllers_.end() ? nullptr : it->second;
}

std::shared_ptr<Controller> Target::create_controller_locked(std::shared_ptr<Subsystem> sub, std::string hostnqn,
                                                             ListenerAddress listener) {
  // Controller IDs 1..0xffef; skip ones still in use after wrapping.
  for (int tries = 0; tries < 0xfff0; ++tries) {
    uint16_t id = next_cntlid_;
    next_cntlid_ = next_cntlid_ >= 0xffef ? 1 : static_cast<uint16_t>(next_cntlid_ + 1);
    if (controllers_.count(id)) continue;
    auto c = std::make_shared<Controller>();
    c->cntlid = id;
    c->subsystem = std::move(sub);
    c->hostnqn = std::move(hostnqn);
    c->listener = std::move(listener);
    controllers_[id] = c;
    controller_event_locked(*c, true);
    return c;
  }
  return nullptr;
}

void Target::drop_controller_locked(uint16_t cntlid) {
  auto it = controllers_.find(cntlid);
  if (it == controllers_.end()) return;
  controller_event_locked(*it->second, false);
  controllers_.erase(it);
}

void Target::controller_event_locked(const Controller& c, bool connected) const {
  if (controller_hook_ && c.subsystem) controller_hook_(c.subsystem->options.nqn, c.hostnqn, c.cntlid, connected);
}

void Target::notify_locked(const std::function<bool(const Controller&)>& which, AsyncEvent event, uint32_t nsid) {
  for (auto& [id, c] : controllers_)
    if (!c->failed.load() && which(*c)) deliver_event(c, event, nsid);
}

void Target::fail_locked(const std::function<bool(const Controller&)>& which) {
  for (auto it = controllers_.begin(); it != controllers_.end();) {
    if (which(*it->second)) {
      it->second->failed.store(true);
      controller_event_locked(*it->second, false);
      it = controllers_.erase(it);
    } else {
      ++it;
    }
  }
}

Status Target::set_host_keys(const std::string& nqn, const std::string& host, std::shared_ptr<const auth::DhchapKeys> keys) {
  if (!valid_nqn(host)) return Status::error(-EINVAL, "invalid host NQN '" + host + "'");
  std::lock_guard lock(mutex_);
  auto it = subsystems_.find(nqn);
  if (it == subsystems_.end()) return missing(nqn);
  Subsystem* sub = it->second.get();
  if (keys) {
    sub->host_keys[host] = std::move(keys);
    return Status::ok();
  }
  if (sub->host_keys.erase(host) == 0) return Status::ok();
  // Keys taken away: queues authenticated with them end now.
  fail_locked([&](const Controller& c) { return c.subsystem.get() == sub && c.hostnqn == host; });
  return Status::ok();
}

Status Target::set_host_psk(const std::string& nqn, const std::string& host, std::shared_ptr<const auth::ParsedKey> psk) {
  if (!valid_nqn(host)) return Status::error(-EINVAL, "invalid host NQN '" + host + "'");
  if (psk && psk->key.size() != 32 && psk->key.size() != 48) return Status::error(-EINVAL, "a TLS PSK is 32 or 48 bytes");
  std::lock_guard lock(mutex_);
  auto it = subsystems_.find(nqn);
  if (it == subsystems_.end()) return missing(nqn);
  Subsystem* sub = it->second.get();
  if (psk) {
    sub->host_psks[host] = std::move(psk);
    return Status::ok();
  }
  if (sub->host_psks.erase(host) == 0) return Status::ok();
  fail_locked([&](const Controller& c) { return c.subsystem.get() == sub && c.hostnqn == host; });
  return Status::ok();
}

Status Target::set_dhchap_policy(const std::string& nqn, auth::DhchapPolicy policy) {
  if ((policy.hashes & auth::kAllHashes) == 0 || (policy.hashes & ~auth::kAllHashes) != 0)
    return Status::error(-EINVAL, "the subsystem must allow at least one of sha256, sha384, sha512, and nothing else");
  if ((policy.dh_groups & auth::kAllDhGroups) == 0 || (policy.dh_groups & ~auth::kAllDhGroups) != 0)
    return Status::error(-EINVAL, "the subsystem must allow at least one of null, ffdhe2048..ffdhe8192, and nothing else");
  std::lock_guard lock(mutex_);
  auto it = subsystems_.find(nqn);
  if (it == subsystems_.end()) return missing(nqn);
  it->second->dhchap_policy = policy;
  return Status::ok();
}

}  // namespace nds::nvmf
