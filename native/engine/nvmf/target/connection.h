// One NVMe/TCP queue pair on the target side, independent of sockets: bytes from the host
// go in, bytes for the host accumulate in output(). It handles the IC exchange, Fabrics
// Connect / Property Get / Property Set / Disconnect, the admin commands a host needs
// (admin.cc) and NVM I/O (Read, Write with in-capsule data or R2T/H2CData, Flush, Write
// Zeroes, Dataset Management, Compare) on the subsystem's namespaces.
//
// Threading: a connection lives on one thread; its namespace queues (bdev channels) are
// opened there, and its I/O completes there. On the I/O path it allocates nothing: requests
// come from a per-connection free list, data buffers from the thread's DMA pool cache.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nvmf/auth/dhchap_target.h"
#include "nvmf/target/target.h"
#include "nvmf/wire/output_stream.h"
#include "nvmf/wire/tcp_pdu.h"

namespace nds::nvmf {

// Buffers for command data: DMA memory in the engine, plain aligned memory in tests.
// aligned_alloc/free, for tests and tools without an engine.
class HeapBuffers final : public BufferSource {
 public:
  void* get(uint32_t length) override;
  void put(void* buffer, uint32_t length) override;
};

class Connection {
 public:
  // `thread` is where the connection runs (nullptr in single-threaded tests).
  Connection(Target& target, ListenerAddress via, BufferSource& buffers, Thread* thread);
  ~Connection();  // on the connection's thread, once in_flight() is 0
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Bytes from the host: straight into the reader (prepare/commit) or copied (receive).
  uint8_t* prepare(size_t length) { return reader_.prepare(length); }
  void commit(size_t length) { reader_.commit(length); }
  void process();
  void receive(const uint8_t* data, size_t length);

  // Bytes for the host. `on_output` runs when a completion adds bytes outside process().
  OutputStream& output() { return out_; }
  void set_output_hook(std::function<void()> hook) { on_output_ = std::move(hook); }

  // Ended: by a fatal protocol error (a C2HTermReq is in the output), by the host, or by
  // close(). Nothing more is processed; I/O in flight completes silently.
  bool closed() const { return closed_; }
  const std::string& close_reason() const { return close_reason_; }
  void close(std::string reason);
  size_t in_flight() const { return in_flight_; }
  bool is_admin_queue() const { return ctrl_ && qid_ == 0; }

  // Periodically on the connection's thread: keep-alive expiry (admin queue) and
  // controller teardown (every queue). Closes the connection when either happened.
  void check_timers(uint64_t now_ns);
  // The subsystem changed: pick up the new namespace table and ANA state now.
  void refresh_namespaces();
  // The transport set up TLS with this PSK identity's NQNs: Connect must name the same.
  void set_tls_identity(std::string host_nqn, std::string subsys_nqn) {
    tls_host_nqn_ = std::move(host_nqn);
    tls_subsys_nqn_ = std::move(subsys_nqn);
    tls_ = true;
  }
  // Admin queue: an asynchronous event for the host.
  void post_event(AsyncEvent event, uint32_t nsid);

 private:
  struct Request;
  struct NamespaceSlot;
  friend void deliver_event(const std::shared_ptr<Controller>&, AsyncEvent, uint32_t);

  void handle(const PduView& pdu);
  void handle_ic(const PduView& pdu);
  void handle_command(const PduView& pdu);
  void handle_h2c_data(const PduView& pdu);
  void fabrics(const uint8_t* sqe, const uint8_t* data, uint32_t data_length);
  void connect(const uint8_t* sqe, const uint8_t* data, uint32_t data_length);
  // DH-HMAC-CHAP (Authentication Send / Receive) on a queue whose host has keys.
  void auth_send(const uint8_t* sqe, const uint8_t* data, uint32_t data_length);
  void auth_receive(const uint8_t* sqe);
  bool auth_command_valid(const uint8_t* sqe) const;
  // admin.cc
  void admin(const uint8_t* sqe, const uint8_t* data, uint32_t data_length);
  void identify(const uint8_t* sqe);
  void get_log_page(const uint8_t* sqe);
  void features(const uint8_t* sqe);
  std::vector<uint8_t> discovery_log();
  std::vector<uint8_t> ana_log(bool without_nsids);

  // The commands served, one row each (commands.cc). A row drives validation (the flags),
  // dispatch, and the Commands Supported and Effects log. Adding a command is one row
  // and its handler.
  struct AdminCommand {
    uint8_t opcode;
    uint32_t effects;  // Commands Supported and Effects: bit 0 CSUPP, bit 1 LBCC
    void (Connection::*handle)(const uint8_t* sqe);
  };
  enum IoFlag : uint8_t {
    kRanged = 1,       // SLBA and NLB must lie inside the namespace
    kMovesData = 2,    // NLB blocks of data move (capped by MDTS)
    kFromHost = 4,     // the data comes from the host (in the capsule or by R2T)
    kRangeList = 8,    // the capsule holds a list of ranges (Dataset Management)
  };
  struct IoCommand {
    uint8_t opcode;
    uint8_t flags;
    uint32_t effects;
    void (Connection::*execute)(Request* req);  // once the data, if any, is in req->buf
  };
  static const AdminCommand kAdminCommands[];
  static const IoCommand kIoCommands[];
  static const AdminCommand* admin_command(uint8_t opcode);
  static const IoCommand* io_command(uint8_t opcode);
  // Fills the 4 KiB Commands Supported and Effects log (NVM commands only for I/O controllers).
  static void fill_effects_log(uint8_t* log, bool with_io_commands);
  // Admin handlers.
  void keep_alive(const uint8_t* sqe);
  void async_event_request(const uint8_t* sqe);
  void abort_command(const uint8_t* sqe);
  // I/O handlers.
  void execute_read(Request* req);
  void execute_write(Request* req);
  void execute_compare(Request* req);
  void execute_flush(Request* req);
  void execute_write_zeroes(Request* req);

  void io(const PduView& pdu);
  void execute(Request* req);
  static void io_done(int status, void* arg);
  void finish(Request* req, int status);
  void dsm(Request* req);
  Request* take_request(const uint8_t* sqe);
  void release(Request* req);
  NamespaceSlot* slot_for(uint32_t nsid);
  void retire(std::unique_ptr<NamespaceSlot> slot);
  void slot_idle(NamespaceSlot* slot);

  void respond(uint16_t cid, uint16_t status, uint64_t dw0 = 0);
  // `pool_buffer` (holding `data`) passes to the output stream: sent without a copy.
  void send_data(uint16_t cid, const uint8_t* data, uint32_t length, void* pool_buffer = nullptr,
                 uint32_t pool_buffer_length = 0);
  void terminate(FatalError status, uint32_t field, std::string reason, bool data_digest = false);
  uint8_t digest_flags(bool with_data) const;
  void output_added();
  void teardown_controller();

  Target& target_;
  ListenerAddress via_;
  BufferSource& buffers_;
  Thread* thread_;
  PduReader reader_;
  OutputStream out_{&buffers_};
  std::function<void()> on_output_;
  bool in_process_ = false;
  bool ic_done_ = false;
  bool closed_ = false;
  std::string close_reason_;
  bool header_digest_ = false;
  bool data_digest_ = false;
  uint16_t qid_ = 0;
  bool io_queue_listed_ = false;  // this I/O queue is in its controller's io_queues_connected
  uint16_t sq_head_ = 0;
  uint16_t sq_size_ = 1;
  std::shared_ptr<Controller> ctrl_;
  // Set at Connect when the host has DH-HMAC-CHAP keys: until it authenticates, the queue
  // takes nothing but authentication commands, for at most kAuthTimeoutNs.
  std::unique_ptr<auth::DhchapTarget> auth_;
  uint64_t auth_started_ns_ = 0;
  bool tls_ = false;
  std::string tls_host_nqn_, tls_subsys_nqn_;
  uint64_t last_keep_alive_ns_ = 0;
  std::vector<uint16_t> held_aers_;     // admin queue: AER command IDs waiting for an event
  std::vector<uint32_t> pending_events_;

  // I/O queue state.
  std::vector<std::unique_ptr<Request>> requests_;  // index + 1 is the R2T transfer tag
  std::vector<Request*> free_requests_;
  size_t in_flight_ = 0;
  uint64_t table_generation_ = 0;
  std::shared_ptr<const NamespaceTable> table_;
  std::vector<std::unique_ptr<NamespaceSlot>> slots_;  // by NSID - 1
  std::vector<std::unique_ptr<NamespaceSlot>> retiring_;  // removed, waiting for their I/O
  AnaState ana_ = AnaState::Optimized;
};

}  // namespace nds::nvmf
