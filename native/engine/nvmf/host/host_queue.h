// One NVMe/TCP queue pair on the host side: a non-blocking socket polled on one thread,
// the IC exchange, Fabrics Connect, then commands with their data (in-capsule writes,
// R2T/H2CData for larger ones, C2HData into the caller's buffer for reads). It knows
// nothing of controllers or bdevs: host_controller.h and the nvmf bdev build on it.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nvmf/auth/dhchap_host.h"
#include "nvmf/tls/tls_channel.h"
#include "nvmf/wire/output_stream.h"
#include "nvmf/wire/socket_address.h"
#include "nvmf/wire/tcp_pdu.h"

namespace nds {
class Thread;
struct Poller;
}

namespace nds::nvmf {

struct HostQueueOptions {
  std::string address;
  uint16_t port = 4420;
  std::string subnqn;
  std::string hostnqn;
  std::array<uint8_t, 16> hostid{};
  uint16_t qid = 0;
  uint16_t cntlid = 0xffff;  // admin queue: dynamic controller; I/O queues: the admin's
  uint16_t queue_size = 32;
  uint32_t keep_alive_ms = 0;  // admin queue only
  bool header_digest = false;
  bool data_digest = false;
  uint32_t in_capsule_limit = 8192;  // bytes of write data sent inside the capsule
  // DH-HMAC-CHAP: with keys, the queue authenticates when the controller asks it to after
  // Connect (and refuses a controller that does not ask when a controller key is given).
  std::shared_ptr<const auth::DhchapKeys> dhchap;
  auth::DhchapPolicy dhchap_policy;
  // TLS 1.3: with a configured PSK (NVMeTLSkey-1 form, parsed), the queue runs TLS on its
  // socket before the IC exchange, with the PSK identity for hostnqn and subnqn.
  std::shared_ptr<const auth::ParsedKey> tls_psk;
  int tls_identity_version = 0;  // 1: the identity carries the PSK digest (libnvme's version 1)
};

// status: 0, or a negative errno for transport failures (-ECONNRESET: the queue went away
// with the command outstanding). nvme_status: the CQE status (SCT << 8 | SC, DNR, More).
using HostCommandCb = void (*)(void* arg, int status, uint16_t nvme_status, uint64_t dw0);

class HostQueue {
 public:
  enum class State { Connecting, Handshake, Ready, Failed };

  // Everything happens on `thread`; the queue starts connecting at once.
  HostQueue(Thread& thread, HostQueueOptions options);
  ~HostQueue();  // outstanding commands complete with -ECONNABORTED
  HostQueue(const HostQueue&) = delete;
  HostQueue& operator=(const HostQueue&) = delete;

  State state() const { return state_; }
  const std::string& error() const { return error_; }
  int error_code() const { return error_code_; }  // the negative errno it failed with
  uint16_t cntlid() const { return cntlid_; }
  const HostQueueOptions& options() const { return options_; }
  // Runs when the queue becomes Ready or Failed. It must not delete the queue (defer that).
  void set_state_hook(std::function<void(State)> hook) { on_state_ = std::move(hook); }

  // Ready queues only. `sqe` is 64 bytes; its CID and data pointer are filled in here.
  // `write_data` goes to the controller; `read_buf` receives its data. Returns 0, or
  // -EAGAIN when every slot is busy, -ENOTCONN when not ready.
  int submit(const uint8_t* sqe, const void* write_data, uint32_t write_length, void* read_buf, uint32_t read_length,
             HostCommandCb cb, void* arg);
  size_t outstanding() const { return outstanding_; }
  // Command timeouts without a clock read per command: the owner calls tick()
  // periodically, and a command's age is the number of ticks since it was sent.
  void tick() { ++tick_; }
  // Calls fn(arg) for every command outstanding for more than `ticks` ticks; returns how many.
  template <typename Fn>
  size_t for_each_overdue(uint64_t ticks, Fn fn) const {
    size_t n = 0;
    for (const Slot& s : slots_)
      if (s.busy && tick_ - s.sent_tick > ticks) {
        fn(s.arg);
        ++n;
      }
    return n;
  }
  size_t capacity() const { return slots_.size(); }
  // Ends the queue: outstanding commands complete with `error`, the state becomes Failed.
  void fail(int error, std::string reason);

 private:
  struct Slot {
    bool busy = false;
    HostCommandCb cb = nullptr;
    void* arg = nullptr;
    const uint8_t* write_data = nullptr;
    uint32_t write_length = 0;
    uint8_t* read_buf = nullptr;
    uint32_t read_length = 0;
    uint32_t read_received = 0;
    uint64_t sent_tick = 0;
    bool parked = false;  // an AER: answered only when an event happens
  };
  static int poll(void* arg);
  static void flush_deferred(void* arg);
  void start_connect();
  bool start_tls();
  void on_connected();
  void handle(const PduView& pdu);
  void send_connect();
  // submit() without the Ready check (Connect goes out during the handshake).
  int send_command(const uint8_t* sqe, const void* write_data, uint32_t write_length, void* read_buf,
                   uint32_t read_length, HostCommandCb cb, void* arg);
  static void connect_done(void* arg, int status, uint16_t nvme_status, uint64_t dw0);
  // DH-HMAC-CHAP after Connect: one Authentication Send or Receive at a time.
  enum class AuthStep { SentNegotiate, ReceivedChallenge, SentReply, ReceivedSuccess1, SentSuccess2, SentFailure2 };
  static const char* auth_step_name(AuthStep step);
  void start_auth();
  void auth_send(AuthStep step, std::vector<uint8_t> message);
  void auth_receive(AuthStep step);
  void auth_command(AuthStep step, uint8_t fctype, uint32_t length);
  static void auth_done(void* arg, int status, uint16_t nvme_status, uint64_t dw0);
  void complete(uint16_t cid, int status, uint16_t nvme_status, uint64_t dw0);
  void send_h2c(uint16_t cid, uint16_t ttag, uint32_t offset, uint32_t length);
  bool flush();
  void schedule_flush();
  void set_state(State s);
  uint8_t digest_flags(bool with_data) const;

  Thread& thread_;
  HostQueueOptions options_;
  State state_ = State::Connecting;
  std::string error_;
  int error_code_ = 0;
  int fd_ = -1;
  std::unique_ptr<tls::TlsChannel> tls_;
  Poller* poller_ = nullptr;
  bool tcp_connected_ = false;
  bool ic_done_ = false;
  bool flush_scheduled_ = false;
  bool header_digest_ = false;
  bool data_digest_ = false;
  uint32_t max_h2c_data_ = 0;
  uint16_t cntlid_ = 0;
  PduReader reader_;
  OutputStream out_{nullptr};  // write data is spliced from the caller's buffers
  std::vector<Slot> slots_;
  std::vector<uint16_t> free_cids_;
  size_t outstanding_ = 0;
  size_t parked_ = 0;  // of those, AERs
  uint64_t tick_ = 0;
  std::vector<uint8_t> connect_data_;
  std::unique_ptr<auth::DhchapHost> auth_;
  AuthStep auth_step_ = AuthStep::SentNegotiate;
  std::vector<uint8_t> auth_out_, auth_in_;  // the command in flight's data
  std::string auth_error_;                   // kept while a Failure2 goes out
  std::function<void(State)> on_state_;
  bool in_poll_ = false;
  uint32_t idle_polls_ = 0;  // passes since an idle queue last looked at its socket
  bool busy_polled_ = false;  // its reactor busy-polls (idle mode poll)
  bool* destroyed_flag_ = nullptr;
};

}  // namespace nds::nvmf
