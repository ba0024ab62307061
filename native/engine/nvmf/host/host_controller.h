// The host side of one remote NVMe-oF controller, on the app thread: the admin queue and
// its bring-up (Connect, enable, Identify, number of queues, async event configuration),
// keep-alive, asynchronous events, and reconnection. When a queue is lost the controller
// reconnects every reconnect_delay until ctrl_loss_timeout has passed, then it is Failed
// for good: I/O on it fails with ENODEV and the bdev on it reports itself gone.
//
// I/O queues belong to the threads that use them (the nvmf bdev's channels); they read
// state(), generation() and cntlid() (atomics) and reconnect when the generation moves.
#pragma once
#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "nvmf/host/host_queue.h"
#include "util/status.h"

namespace nds::nvmf {

struct HostControllerOptions {
  std::string address;
  uint16_t port = 4420;
  std::string subnqn;
  std::string hostnqn;
  std::array<uint8_t, 16> hostid{};
  bool header_digest = false;
  bool data_digest = false;
  uint32_t keep_alive_ms = 10000;
  uint32_t ctrl_loss_timeout_ms = 10000;
  uint32_t reconnect_delay_ms = 200;
  // Each connection attempt (TCP connect, IC exchange, Fabrics Connect and the bring-up's
  // admin commands) must end within this, or it fails with ETIMEDOUT: a target that accepts
  // and then says nothing never holds a connect or a reconnect forever. 0: no limit.
  uint32_t connect_timeout_ms = 10000;
  // An I/O command unanswered this long makes its queue reconnect and the command go
  // again; after kIoAttempts such timeouts the I/O fails with ETIMEDOUT. 0: no limit.
  uint32_t io_timeout_ms = 30000;
  uint16_t io_queue_size = 128;
  // 0: identify only: list the active namespaces (active_namespaces()) and go no further.
  uint32_t nsid = 1;
  // DH-HMAC-CHAP keys for every queue (admin and I/O), and the hashes and groups offered.
  std::shared_ptr<const auth::DhchapKeys> dhchap;
  auth::DhchapPolicy dhchap_policy;
  // TLS 1.3 with this configured PSK on every queue (nullptr: plain TCP).
  std::shared_ptr<const auth::ParsedKey> tls_psk;
  int tls_identity_version = 0;  // the PSK identity offered: 0 (SPDK's) or 1 (with the PSK digest)
};

struct RemoteNamespace {
  uint64_t num_blocks = 0;
  uint32_t block_size = 0;
  std::array<uint8_t, 16> uuid{};
  bool has_uuid = false;
  bool deallocate = false;  // ONCS: Dataset Management
  bool write_zeroes = false;
};

class HostController : public std::enable_shared_from_this<HostController> {
 public:
  enum class State { Connecting, Connected, Reconnecting, Failed };

  // App thread. done(ok, controller) once the namespace is identified, or the error.
  static void connect(Thread& app, HostControllerOptions options,
                      std::function<void(Status, std::shared_ptr<HostController>)> done);
  ~HostController();

  // Any thread.
  State state() const { return state_.load(std::memory_order_acquire); }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  uint16_t cntlid() const { return cntlid_.load(std::memory_order_acquire); }
  const HostControllerOptions& options() const { return options_; }
  // Fixed after connect, but for num_blocks, which only grows (refresh_namespace, app thread).
  const RemoteNamespace& ns() const { return ns_; }
  uint32_t max_transfer() const { return max_transfer_; }
  uint32_t in_capsule_limit() const { return in_capsule_limit_; }
  uint16_t io_queue_count() const { return io_queues_; }
  // The active NSIDs, read at connect when options.nsid is 0 (app thread).
  const std::vector<uint32_t>& active_namespaces() const { return active_nsids_; }
  // An I/O queue failed while the controller looked connected (any thread).
  void report_queue_lost(uint64_t generation);
  // Runs on the app thread when the controller fails for good (the bdev is gone).
  void set_failed_hook(std::function<void()> hook) { on_failed_ = std::move(hook); }
  std::string failure() const {  // any thread
    std::lock_guard lock(failure_mutex_);
    return failure_;
  }

  // App thread: identifies the namespace again; done(ok, blocks) with its size now (the
  // target's device may have grown). ENOTCONN while not connected.
  void refresh_namespace(std::function<void(Status, uint64_t)> done);

  // App thread: stops reconnecting and keep-alive, closes the admin queue (Failed).
  void shutdown();

 private:
  HostController(Thread& app, HostControllerOptions options) : app_(app), options_(std::move(options)) {}
  using AdminCb = std::function<void(int rc, uint16_t status, uint64_t dw0)>;
  void admin(const uint8_t* sqe, void* buf, uint32_t length, AdminCb cb, const void* write = nullptr);
  void start_admin_queue();
  // Bring-up, after the admin queue connects: one admin command per step, in this order.
  // Each reply is checked and parsed by step_done, which runs the next step.
  enum class BringUpStep {
    ReadCap,               // Property Get CAP: the ready timeout
    EnableController,      // Property Set CC.EN, 64-byte SQ and 16-byte CQ entries
    WaitReady,             // Property Get CSTS until RDY (polled every 1 ms)
    IdentifyController,    // transfer limits, ONCS, the subsystem NQN
    ListNamespaces,        // the active namespace list (options.nsid 0 only; then Done)
    SetQueueCount,         // ask for 64 I/O queues
    ConfigureAsyncEvents,  // namespace attribute notices (optional)
    IdentifyNamespace,     // size and block size
    NamespaceDescriptors,  // the namespace UUID (optional)
    Done,
  };
  static const char* step_name(BringUpStep step);
  void bring_up();
  void run_step(BringUpStep step);
  void step_done(BringUpStep step, int rc, uint16_t status, uint64_t dw0);
  void finish_bring_up();
  void bring_up_failed(int rc, std::string why);
  void lost(std::string why);
  void schedule_reconnect();
  void submit_aer();
  static int keep_alive_tick(void* arg);
  static int reconnect_tick(void* arg);
  static int ready_tick(void* arg);
  static int connect_timeout_tick(void* arg);
  void stop_connect_timer();

  Thread& app_;
  HostControllerOptions options_;
  std::atomic<State> state_{State::Connecting};
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint16_t> cntlid_{0};
  std::unique_ptr<HostQueue> admin_;
  RemoteNamespace ns_;
  uint32_t max_transfer_ = 131072;
  uint32_t in_capsule_limit_ = 4096;
  uint16_t io_queues_ = 1;
  std::function<void(Status, std::shared_ptr<HostController>)> on_connected_;
  std::function<void()> on_failed_;
  void set_failure(std::string why) {
    std::lock_guard lock(failure_mutex_);
    failure_ = std::move(why);
  }
  mutable std::mutex failure_mutex_;  // health() reads it from I/O threads
  std::string failure_;
  uint64_t lost_at_ns_ = 0;
  Poller* keep_alive_poller_ = nullptr;
  Poller* reconnect_poller_ = nullptr;
  Poller* ready_poller_ = nullptr;
  Poller* connect_poller_ = nullptr;  // armed for each connection attempt
  uint64_t connect_started_ns_ = 0;
  BringUpStep step_ = BringUpStep::ReadCap;  // the bring-up's step in progress (for errors)
  bool admin_ready_ = false;  // this attempt's admin queue finished IC and Connect
  int ready_tries_ = 0;
  RemoteNamespace identified_;  // the namespace as the current bring-up reads it
  std::vector<uint32_t> active_nsids_;
  uint64_t keep_alive_sent_ns_ = 0;  // 0: none outstanding
  std::vector<uint8_t> scratch_;     // identify data
  std::shared_ptr<HostController> self_while_connecting_;  // nobody else holds it yet
};

// The discovery log of a target, fetched through its discovery controller.
struct DiscoveryEntry {
  std::string transport;  // "tcp", or the TRTYPE number
  std::string family;     // "ipv4", "ipv6"
  std::string subtype;    // "nvme", "discovery", "discovery-current"
  std::string address;
  std::string service;    // the port
  std::string subnqn;
  uint16_t portid = 0;
  uint16_t cntlid = 0;
};
void discover(Thread& app, const std::string& address, uint16_t port, const std::string& hostnqn,
              std::function<void(Status, std::vector<DiscoveryEntry>)> done);

}  // namespace nds::nvmf
