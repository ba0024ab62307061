#include "nvmf/tcp_target.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace nds::nvmf {

// ------------------------------------------------------------------ bdev namespace

BdevNamespace::~BdevNamespace() {
  if (channel_) bdev_put_io_channel(channel_);
}

uint32_t BdevNamespace::block_size() const { return desc_->bdev->block_size(); }
uint64_t BdevNamespace::num_blocks() const { return desc_->bdev->num_blocks(); }

void BdevNamespace::submit(IoType type, uint64_t offset, uint64_t length, void* buf, std::function<void(int)> done) {
  if (!channel_) channel_ = bdev_get_io_channel(desc_);
  if (!channel_) return done(-ENODEV);
  bdev_submit_closure(desc_, channel_, type, offset, length, buf, std::move(done));
}

void BdevNamespace::read(uint64_t offset, uint32_t length, uint8_t* out, std::function<void(int)> done) {
  // Through DMA memory: O_DIRECT modules need aligned buffers.
  void* buf = dma_.alloc(length);
  if (!buf) return done(-ENOMEM);
  submit(IoType::Read, offset, length, buf, [this, buf, out, length, done = std::move(done)](int rc) {
    if (rc == 0) std::memcpy(out, buf, length);
    dma_.free(buf);
    done(rc);
  });
}

void BdevNamespace::write(uint64_t offset, uint32_t length, const uint8_t* data, std::function<void(int)> done) {
  void* buf = dma_.alloc(length);
  if (!buf) return done(-ENOMEM);
  std::memcpy(buf, data, length);
  submit(IoType::Write, offset, length, buf, [this, buf, done = std::move(done)](int rc) {
    dma_.free(buf);
    done(rc);
  });
}

void BdevNamespace::flush(std::function<void(int)> done) { submit(IoType::Flush, 0, 0, nullptr, std::move(done)); }

void BdevNamespace::write_zeroes(uint64_t offset, uint64_t length, std::function<void(int)> done) {
  submit(IoType::WriteZeroes, offset, length, nullptr, std::move(done));
}

// ------------------------------------------------------------------ sockets

struct TcpTarget::Conn {
  TcpTarget* target;
  int fd;
  Poller* poller = nullptr;
  std::vector<uint8_t> out;  // bytes not yet accepted by the socket
  size_t out_sent = 0;
  std::unique_ptr<Connection> protocol;
  bool dead = false;
};

TcpTarget::TcpTarget(Thread& thread, ListenerAddress address) : thread_(thread), core_(std::move(address)) {}

TcpTarget::~TcpTarget() {
  for (auto& c : connections_) ::close(c->fd);
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

Status TcpTarget::listen() {
  const ListenerAddress& a = core_.listener();
  bool v6 = a.address.find(':') != std::string::npos;
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::error(-errno, std::string("socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(a.port);
    if (inet_pton(AF_INET6, a.address.c_str(), &sin6->sin6_addr) != 1) {
      ::close(fd);
      return Status::error(-EINVAL, "bad IPv6 address " + a.address);
    }
    len = sizeof(sockaddr_in6);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(a.port);
    if (inet_pton(AF_INET, a.address.c_str(), &sin->sin_addr) != 1) {
      ::close(fd);
      return Status::error(-EINVAL, "bad IPv4 address " + a.address);
    }
    len = sizeof(sockaddr_in);
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 128) != 0) {
    int err = errno;
    ::close(fd);
    return Status::error(-err, "cannot listen on " + a.address + ":" + std::to_string(a.port) + ": " + std::strerror(err));
  }
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  listen_fd_ = fd;
  listener_poller_ = thread_.register_poller("nvmf-listen", poll_listener, this, 0, fd);
  return Status::ok();
}

int TcpTarget::poll_listener(void* arg) {
  auto* self = static_cast<TcpTarget*>(arg);
  int work = 0;
  for (;;) {  // edge-triggered: take every pending connection
    int fd = accept4(self->listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) break;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto conn = std::make_unique<Conn>();
    Conn* c = conn.get();
    c->target = self;
    c->fd = fd;
    c->protocol = std::make_unique<Connection>(self->core_, [c](std::vector<uint8_t> pdu) {
      c->out.insert(c->out.end(), pdu.begin(), pdu.end());
    });
    c->poller = self->thread_.register_poller("nvmf-conn", poll_connection, c, 0, fd);
    self->connections_.push_back(std::move(conn));
    ++work;
  }
  return work;
}

int TcpTarget::poll_connection(void* arg) {
  auto* c = static_cast<Conn*>(arg);
  if (c->dead) return 0;
  int work = 0;
  uint8_t buf[64 * 1024];
  for (;;) {  // edge-triggered: read until the socket is empty
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    if (n > 0) {
      c->protocol->receive(buf, static_cast<size_t>(n));
      ++work;
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) c->dead = true;
    break;
  }
  while (c->out_sent < c->out.size()) {
    ssize_t n = send(c->fd, c->out.data() + c->out_sent, c->out.size() - c->out_sent, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) c->dead = true;
      break;
    }
    c->out_sent += static_cast<size_t>(n);
    ++work;
  }
  if (c->out_sent == c->out.size()) {
    c->out.clear();
    c->out_sent = 0;
  } else if (!c->dead) {
    work = std::max(work, 1);  // output still queued: keep polling until the socket takes it
  }
  if (c->dead || c->protocol->closed()) {
    // Whatever a TermReq left in `out` was attempted above; now close.
    c->target->drop(c);
    return 1;
  }
  return work;
}

void TcpTarget::drop(Conn* conn) {
  thread_.unregister_poller(conn->poller);
  ::close(conn->fd);
  conn->dead = true;
  // Freed after this pass: the poller list still holds the pointer until then.
  auto it = std::find_if(connections_.begin(), connections_.end(), [conn](auto& p) { return p.get() == conn; });
  if (it == connections_.end()) return;
  Conn* raw = it->release();
  connections_.erase(it);
  thread_.defer([](void* p) { delete static_cast<Conn*>(p); }, raw);
}

void TcpTarget::close() {
  while (!connections_.empty()) drop(connections_.back().get());
  if (listener_poller_) thread_.unregister_poller(listener_poller_);
  listener_poller_ = nullptr;
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

}  // namespace nds::nvmf
