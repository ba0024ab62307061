// The NVMe/TCP target's sockets. Listening sockets are polled on the control thread; each
// accepted connection is handed to one poll group (a lightweight thread per reactor,
// round-robin), which owns it from then on: its socket, its protocol Connection, its
// namespace queues. Nothing on the I/O path crosses threads or takes a lock.
//
// Sockets are non-blocking, in one edge-triggered epoll set per group whose fd the group's
// poller carries, so a pass costs one epoll_wait and an adaptive reactor sleeps between PDUs.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "env/buffer_pool.h"
#include "nvmf/target/connection.h"
#include "nvmf/target/target.h"
#include "thread/thread.h"

namespace nds::nvmf {

class TcpTransport {
 public:
  // `control` runs the listeners and all configuration calls; `groups` are the poll groups'
  // threads. Buffers come from the two pools (requests up to the small size, then large).
  TcpTransport(Target& target, Thread& control, std::vector<Thread*> groups, BufferPool* small, BufferPool* large);
  ~TcpTransport();
  TcpTransport(const TcpTransport&) = delete;
  TcpTransport& operator=(const TcpTransport&) = delete;

  // ---- on the control thread ----
  // Binds and listens (IPv4 or IPv6). Port 0 picks a free port, written back to *address.
  Status listen(ListenerAddress* address);
  void stop_listening(const ListenerAddress& address);
  bool listening(const ListenerAddress& address) const;
  // Every connection picks up namespace changes now; then done (on the control thread).
  void refresh(std::function<void()> done);
  // Closes the listeners and every connection; done once every connection is gone.
  void shutdown(std::function<void()> done);

  size_t connection_count() const { return connections_.load(); }  // any thread

 private:
  struct Listener;
  struct Group;
  struct Socket;
  static int poll_listener(void* arg);
  static int poll_group(void* arg);
  static int service(Socket* s);
  static bool start_tls(Socket* s);
  static int poll_group_timer(void* arg);
  static void flush_deferred(void* arg);
  void adopt(Group* group, int fd, ListenerAddress via);
  static bool flush(Socket* s);
  static void drop(Socket* s);
  void broadcast(std::function<void(Group*)> on_group, std::function<void()> done);

  Target& target_;
  Thread& control_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::unique_ptr<Group>> groups_;
  size_t next_group_ = 0;
  std::atomic<size_t> connections_{0};
};

}  // namespace nds::nvmf
