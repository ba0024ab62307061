// The NVMe-oF TCP target's socket layer: a listening socket and its connections, polled on
// one engine thread (edge-triggered epoll via pollers' interrupt fds, so an adaptive
// reactor sleeps between PDUs), each connection running a protocol Connection
// (controller.h). Namespaces are bdevs.
//
// Status: all connections of a target run on one thread; spreading them across reactors
// (poll groups) is still to come.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "bdev/bdev_manager.h"
#include "env/dma_region.h"
#include "nvmf/controller.h"
#include "thread/thread.h"

namespace nds::nvmf {

// A namespace served by a bdev through a descriptor; I/O runs on the thread that calls it.
class BdevNamespace final : public Namespace {
 public:
  BdevNamespace(BdevDesc* desc, DmaRegion& dma) : desc_(desc), dma_(dma) {}
  ~BdevNamespace() override;
  uint32_t block_size() const override;
  uint64_t num_blocks() const override;
  void read(uint64_t offset, uint32_t length, uint8_t* out, std::function<void(int)> done) override;
  void write(uint64_t offset, uint32_t length, const uint8_t* data, std::function<void(int)> done) override;
  void flush(std::function<void(int)> done) override;
  void write_zeroes(uint64_t offset, uint64_t length, std::function<void(int)> done) override;

 private:
  void submit(IoType type, uint64_t offset, uint64_t length, void* buf, std::function<void(int)> done);
  BdevDesc* desc_;
  DmaRegion& dma_;
  IoChannel* channel_ = nullptr;
};

class TcpTarget {
 public:
  // `thread` runs the listener and every connection.
  TcpTarget(Thread& thread, ListenerAddress address);
  ~TcpTarget();
  Target& core() { return core_; }
  // On `thread`: binds and listens. EADDRINUSE and friends as negative errno.
  Status listen();
  uint16_t port() const { return port_; }  // the bound port (useful with port 0)
  size_t connections() const { return connections_.size(); }
  // On `thread`: closes the listener and every connection.
  void close();

 private:
  struct Conn;
  static int poll_listener(void* arg);
  static int poll_connection(void* arg);
  void drop(Conn* conn);

  Thread& thread_;
  Target core_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  Poller* listener_poller_ = nullptr;
  std::vector<std::unique_ptr<Conn>> connections_;
};

}  // namespace nds::nvmf
