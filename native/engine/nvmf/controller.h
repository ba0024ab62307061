// The NVMe-oF controller side of NVMe/TCP, independent of sockets: a Connection takes the
// bytes a host sent and produces the bytes to send back. It handles the IC exchange,
// Fabrics Connect / Property Get / Property Set, the admin commands a host needs
// (Identify, Get Log Page, Get/Set Features, Keep Alive, Asynchronous Event Request,
// Abort) and NVM I/O (Read, Write with in-capsule data or R2T/H2CData, Flush, Write Zeroes,
// Dataset Management) on namespaces behind the Namespace interface.
//
// Status: the protocol core of the NVMe-oF TCP target. The socket listener, poll groups,
// the bdev-backed namespace and the TypeScript API are not built yet.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nvmf/tcp_pdu.h"

namespace nds::nvmf {

// A namespace's storage; completions may come later (status 0 or a negative errno).
class Namespace {
 public:
  virtual ~Namespace() = default;
  virtual uint32_t block_size() const = 0;
  virtual uint64_t num_blocks() const = 0;
  virtual void read(uint64_t offset, uint32_t length, uint8_t* out, std::function<void(int)> done) = 0;
  virtual void write(uint64_t offset, uint32_t length, const uint8_t* data, std::function<void(int)> done) = 0;
  virtual void flush(std::function<void(int)> done) = 0;
  virtual void write_zeroes(uint64_t offset, uint64_t length, std::function<void(int)> done) = 0;
};

struct SubsystemConfig {
  std::string nqn;
  std::string serial = "NODESTOR0000001";
  std::string model = "nodestor";
  std::string firmware = "0.1";
  bool allow_any_host = false;
  std::vector<std::string> hosts;
  std::vector<std::shared_ptr<Namespace>> namespaces;  // NSID = index + 1
};

struct ListenerAddress {
  std::string address = "127.0.0.1";
  uint16_t port = 4420;
};

constexpr const char* kDiscoveryNqn = "nqn.2014-08.org.nvmexpress.discovery";

struct ControllerState;

// Subsystems and controllers shared by every connection of one listener.
class Target {
 public:
  explicit Target(ListenerAddress listener) : listener_(std::move(listener)) {}
  void add_subsystem(SubsystemConfig config) { subsystems_[config.nqn] = std::move(config); }
  const SubsystemConfig* subsystem(const std::string& nqn) const;
  const ListenerAddress& listener() const { return listener_; }
  const std::map<std::string, SubsystemConfig>& subsystems() const { return subsystems_; }
  uint32_t max_data_transfer() const { return 131072; }
  uint32_t in_capsule_data_size() const { return 4096; }

 private:
  friend class Connection;
  ListenerAddress listener_;
  std::map<std::string, SubsystemConfig> subsystems_;
  std::map<uint16_t, std::shared_ptr<ControllerState>> controllers_;
  uint16_t next_cntlid_ = 1;
};

class Connection {
 public:
  // `send` receives every PDU to transmit, in order.
  Connection(Target& target, std::function<void(std::vector<uint8_t>)> send) : target_(target), send_(std::move(send)) {}
  void receive(const uint8_t* data, size_t length);
  // A fatal protocol error ended the connection (a C2HTermReq was sent).
  bool closed() const { return closed_; }

 private:
  struct Command;
  void handle(const Pdu& pdu);
  void handle_command(const Pdu& pdu);
  void handle_h2c_data(const Pdu& pdu);
  void admin(std::shared_ptr<Command> cmd);
  void fabrics(std::shared_ptr<Command> cmd);
  void io(std::shared_ptr<Command> cmd);
  void complete(const Command& cmd, uint16_t status, uint64_t dw0 = 0);
  void send_data_and_complete(const Command& cmd, const uint8_t* data, uint32_t length);
  void terminate(FatalError status, uint32_t field);
  uint8_t digest_flags(bool with_data) const;

  Target& target_;
  std::function<void(std::vector<uint8_t>)> send_;
  PduReader reader_;
  bool ic_done_ = false;
  bool closed_ = false;
  bool header_digest_ = false;
  bool data_digest_ = false;
  uint16_t qid_ = 0;
  uint16_t sq_head_ = 0;
  uint16_t sq_size_ = 0;
  std::shared_ptr<ControllerState> ctrl_;
  std::map<uint16_t, std::shared_ptr<Command>> awaiting_data_;  // by CID: writes waiting for H2CData
  uint16_t next_ttag_ = 1;
};

}  // namespace nds::nvmf
