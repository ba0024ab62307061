// The engine's NVMe-oF target: the shared Target state, the TCP transport with one poll
// group per reactor, and the configuration operations the binding calls on the app thread
// (subsystems, namespaces on bdevs, listeners, hosts, ANA states).
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "bdev/bdev_manager.h"
#include "env/buffer_pool.h"
#include "nvmf/target/tcp_transport.h"

namespace nds::nvmf {

struct NamespaceOptions {
  std::string bdev_name;
  uint32_t nsid = 0;  // 0: the lowest free
  bool has_uuid = false;
  std::array<uint8_t, 16> uuid{};  // default: the bdev's UUID
  bool has_nguid = false;
  std::array<uint8_t, 16> nguid{};  // default: the UUID's bytes
};

class TargetService {
 public:
  TargetService(BdevManager& bdevs, Thread& app, std::vector<Thread*> groups, BufferPool* small, BufferPool* large);

  // ---- app thread ----
  Status create_subsystem(SubsystemOptions options) { return target_.add_subsystem(std::move(options)); }
  // done runs once every namespace's descriptor is closed.
  void destroy_subsystem(const std::string& nqn, std::function<void(Status)> done);
  Status add_namespace(const std::string& nqn, const NamespaceOptions& options, uint32_t* nsid);
  // done runs once connections have let go of the bdev.
  void remove_namespace(const std::string& nqn, uint32_t nsid, std::function<void(Status)> done);
  // The port is written back (port 0 picks a free one).
  Status add_listener(const std::string& nqn, ListenerAddress* address, bool secure_channel = false);
  Status remove_listener(const std::string& nqn, const ListenerAddress& address);
  Status add_host(const std::string& nqn, const std::string& host) { return target_.add_host(nqn, host); }
  Status set_allow_any_host(const std::string& nqn, bool allow) { return target_.set_allow_any_host(nqn, allow); }
  Status remove_host(const std::string& nqn, const std::string& host) { return target_.remove_host(nqn, host); }
  Status set_host_keys(const std::string& nqn, const std::string& host, std::shared_ptr<const auth::DhchapKeys> keys) {
    return target_.set_host_keys(nqn, host, std::move(keys));
  }
  Status set_host_psk(const std::string& nqn, const std::string& host, std::shared_ptr<const auth::ParsedKey> psk) {
    return target_.set_host_psk(nqn, host, std::move(psk));
  }
  Status set_dhchap_policy(const std::string& nqn, auth::DhchapPolicy policy) { return target_.set_dhchap_policy(nqn, policy); }
  Status set_ana_state(const std::string& nqn, const ListenerAddress& address, AnaState state);
  std::vector<SubsystemInfo> list() const { return target_.list(); }
  size_t connection_count() const { return transport_.connection_count(); }
  // Engine shutdown: closes listeners and connections, then every namespace.
  void shutdown(std::function<void()> done);

  Target& target() { return target_; }

 private:
  // Drops the entries and waits for their descriptors to close (after connections let go).
  void release(std::vector<std::shared_ptr<const NamespaceEntry>> entries, std::function<void()> done);

  BdevManager& bdevs_;
  Thread& app_;
  Target target_;
  TcpTransport transport_;
};

}  // namespace nds::nvmf
