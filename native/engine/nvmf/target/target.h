// The NVMe-oF target's shared state: subsystems (namespaces, allowed hosts, listeners and
// their ANA states) and the controllers hosts have created. Connections on any poll-group
// thread look things up here under one mutex; that happens on Connect and admin commands,
// never per I/O: an I/O queue keeps a snapshot of its subsystem's namespace table and
// refreshes it only when the subsystem's generation moves.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "bdev/bdev.h"
#include "nvmf/auth/dhchap_keys.h"
#include "nvmf/wire/nvme_spec.h"
#include "util/status.h"

namespace nds {
class Thread;
}

namespace nds::nvmf {

constexpr uint16_t kQueueEntries = 128;      // MQES + 1: queue depth a host may use
constexpr uint32_t kMaxDataTransfer = 131072;  // MDTS: 128 KiB
constexpr uint32_t kInCapsuleDataSize = 8192;  // writes up to this size travel in the capsule

struct ListenerAddress {
  std::string address = "127.0.0.1";
  uint16_t port = 4420;
  bool operator==(const ListenerAddress& o) const { return address == o.address && port == o.port; }
  bool ipv6() const { return address.find(':') != std::string::npos; }
  std::string text() const { return (ipv6() ? "[" + address + "]" : address) + ":" + std::to_string(port); }
};

enum class AnaState : uint8_t { Optimized = 1, NonOptimized = 2, Inaccessible = 3 };
const char* ana_state_name(AnaState state);

// A namespace's storage. Each connection opens its own queue on its own thread, so I/O
// never crosses threads (a bdev channel in the engine).
class Namespace {
 public:
  virtual ~Namespace() = default;
  virtual uint32_t block_size() const = 0;
  virtual uint64_t num_blocks() const = 0;
  virtual void* open_queue() = 0;  // nullptr: the namespace is going away
  virtual void close_queue(void* queue) = 0;
  // 0: cb runs later, or before submit returns; a negative errno: cb will not run.
  virtual int submit(void* queue, IoType type, uint64_t offset, uint64_t length, void* buf, BdevIoCb cb, void* arg) = 0;
};

struct NamespaceEntry {
  uint32_t nsid = 0;
  std::array<uint8_t, 16> nguid{};
  std::array<uint8_t, 16> uuid{};
  std::string bdev_name;
  std::shared_ptr<Namespace> ns;
};
// Indexed by NSID - 1; empty slots for removed namespaces. Never changed once published.
using NamespaceTable = std::vector<std::shared_ptr<const NamespaceEntry>>;

struct SubsystemOptions {
  std::string nqn;
  std::string serial = "NODESTOR0000001";
  std::string model = "nodestor";
  std::string firmware = "0.1";
  bool allow_any_host = false;
  std::vector<std::string> hosts;
  uint32_t max_namespaces = 32;
};

struct SubsystemListener {
  ListenerAddress address;
  AnaState ana = AnaState::Optimized;
  // Secure channel required: a host reaching the subsystem here must use TLS.
  bool secure_channel = false;
};

// Guarded by the target's mutex, except `generation` (read per command without it).
struct Subsystem {
  SubsystemOptions options;
  // DH-HMAC-CHAP: a host with keys here must authenticate each queue after its Connect.
  std::map<std::string, std::shared_ptr<const auth::DhchapKeys>> host_keys;
  auth::DhchapPolicy dhchap_policy;
  // TLS: the configured PSK of each host that has one; such a host must connect over TLS.
  std::map<std::string, std::shared_ptr<const auth::ParsedKey>> host_psks;
  std::vector<SubsystemListener> listeners;
  std::shared_ptr<const NamespaceTable> table = std::make_shared<NamespaceTable>();
  uint64_t ana_change_count = 0;
  std::atomic<uint64_t> generation{1};
};

class Connection;

// Asynchronous event notices (dw0 of the AER completion: type, info, log page).
struct Controller {
  uint16_t cntlid = 0;
  std::shared_ptr<Subsystem> subsystem;  // nullptr: a discovery controller
  std::string hostnqn;
  ListenerAddress listener;
  std::atomic<bool> failed{false};  // torn down: every queue of it closes
  // Owned by the admin queue's thread.
  Thread* admin_thread = nullptr;  // nullptr in tests without engine threads
  Connection* admin = nullptr;
  uint32_t cc = 0, csts = 0;
  uint32_t keep_alive_ms = 0;
  uint16_t io_queues = 0;
  std::vector<uint32_t> changed_nsids;  // for the Changed Namespace List log
  std::multiset<uint16_t> io_queues_connected;  // under the target's mutex: qids of its I/O queues
  // Features a host may read and set that need no behaviour here: arbitration, power
  // management, temperature threshold, error recovery, interrupt coalescing and its
  // per-vector form, asynchronous event configuration (0x0b, consulted for AENs).
  std::map<uint8_t, uint32_t> features{{0x01, 0}, {0x02, 0}, {0x04, 0}, {0x05, 0}, {0x08, 0}, {0x09, 0}, {0x0b, 0}};
};

struct SubsystemInfo {
  SubsystemOptions options;
  std::vector<SubsystemListener> listeners;
  std::vector<std::pair<uint32_t, std::string>> namespaces;  // nsid, bdev name
  std::vector<std::pair<std::array<uint8_t, 16>, std::array<uint8_t, 16>>> namespace_ids;  // uuid, nguid
  size_t controllers = 0;
  struct ControllerSummary {
    uint16_t cntlid;
    std::string hostnqn;
    ListenerAddress listener;
    std::vector<uint16_t> io_queues;  // qids of the connected I/O queues
  };
  std::vector<ControllerSummary> controller_list;
};

// What ended a connection or refused a host, counted for the daemon's metrics.
enum class TransportError : uint8_t { Protocol, HeaderDigest, DataDigest, HostRefused };
constexpr size_t kTransportErrorKinds = 4;

class Target {
 public:
  // ---- error counts (any thread; relaxed: they are statistics) ----
  void count_error(TransportError kind) { errors_[static_cast<size_t>(kind)].fetch_add(1, std::memory_order_relaxed); }
  std::array<uint64_t, kTransportErrorKinds> error_counts() const {
    std::array<uint64_t, kTransportErrorKinds> out{};
    for (size_t i = 0; i < kTransportErrorKinds; ++i) out[i] = errors_[i].load(std::memory_order_relaxed);
    return out;
  }

  // Told when a host's controller comes (connected) and goes, on the connection's thread
  // and under the target's mutex: it must not call back into the target.
  using ControllerHook = std::function<void(const std::string& subnqn, const std::string& hostnqn, uint16_t cntlid, bool connected)>;
  void set_controller_hook(ControllerHook hook) {
    std::lock_guard lock(mutex_);
    controller_hook_ = std::move(hook);
  }

  // ---- configuration (the app thread in the engine) ----
  Status add_subsystem(SubsystemOptions options);
  // Fails the subsystem's controllers and returns its namespaces (to release) and the
  // addresses it listened on.
  Status remove_subsystem(const std::string& nqn, std::vector<std::shared_ptr<const NamespaceEntry>>* removed,
                          std::vector<ListenerAddress>* listeners);
  // nsid 0 picks the lowest free one; *assigned gets it.
  Status add_namespace(const std::string& nqn, NamespaceEntry entry, uint32_t* assigned);
  Status remove_namespace(const std::string& nqn, uint32_t nsid, std::shared_ptr<const NamespaceEntry>* removed);
  Status add_listener(const std::string& nqn, const ListenerAddress& address, bool secure_channel = false);
  Status remove_listener(const std::string& nqn, const ListenerAddress& address);
  Status add_host(const std::string& nqn, const std::string& host);
  Status remove_host(const std::string& nqn, const std::string& host);
  // The host's DH-HMAC-CHAP keys (nullptr: none, the host connects unauthenticated). A
  // change applies to queues connecting from now on; taking keys away fails the host's
  // controllers, as taking the host off the list does.
  Status set_host_keys(const std::string& nqn, const std::string& host, std::shared_ptr<const auth::DhchapKeys> keys);
  // The host's configured TLS PSK (nullptr: none). Like keys, a PSK taken away fails the
  // host's controllers.
  Status set_host_psk(const std::string& nqn, const std::string& host, std::shared_ptr<const auth::ParsedKey> psk);
  // Which hash functions and DH groups the subsystem accepts.
  Status set_dhchap_policy(const std::string& nqn, auth::DhchapPolicy policy);
  // Hosts that connect from now on are checked against the list unless `allow` is set.
  Status set_allow_any_host(const std::string& nqn, bool allow);
  Status set_ana_state(const std::string& nqn, const ListenerAddress& address, AnaState state);
  std::vector<SubsystemInfo> list() const;
  bool has_subsystem(const std::string& nqn) const;
  bool listener_in_use(const ListenerAddress& address) const;
  // Fails every controller (engine shutdown).
  void fail_all_controllers();
  // Every namespace of every subsystem, and the subsystems themselves, are dropped.
  std::vector<std::shared_ptr<const NamespaceEntry>> clear();

  // ---- connections (any thread) ----
  std::mutex& mutex() const { return mutex_; }
  // Under mutex():
  std::shared_ptr<Subsystem> find_locked(const std::string& nqn) const;
  std::shared_ptr<Controller> controller_locked(uint16_t cntlid) const;
  std::shared_ptr<Controller> create_controller_locked(std::shared_ptr<Subsystem> sub, std::string hostnqn,
                                                       ListenerAddress listener);
  void drop_controller_locked(uint16_t cntlid);
  const std::map<std::string, std::shared_ptr<Subsystem>>& subsystems_locked() const { return subsystems_; }
  static bool host_allowed(const Subsystem& sub, const std::string& hostnqn);
  static AnaState ana_state_locked(const Subsystem& sub, const ListenerAddress& via);

 private:
  // Under mutex_: tell the admin queues of matching controllers.
  void notify_locked(const std::function<bool(const Controller&)>& which, AsyncEvent event, uint32_t nsid = 0);
  void fail_locked(const std::function<bool(const Controller&)>& which);

  std::array<std::atomic<uint64_t>, kTransportErrorKinds> errors_{};
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Subsystem>> subsystems_;
  std::map<uint16_t, std::shared_ptr<Controller>> controllers_;
  ControllerHook controller_hook_;
  void controller_event_locked(const Controller& c, bool connected) const;
  uint16_t next_cntlid_ = 1;
};

// Delivers an event to a controller's admin queue on its own thread (connection.cc).
void deliver_event(const std::shared_ptr<Controller>& ctrl, AsyncEvent event, uint32_t nsid);

}  // namespace nds::nvmf
