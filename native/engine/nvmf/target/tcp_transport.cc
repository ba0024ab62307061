#include "nvmf/target/tcp_transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "env/time.h"
#include "nvmf/tls/tls_psk.h"
#include "nvmf/wire/socket_address.h"

namespace nds::nvmf {

namespace {
constexpr size_t kReceiveChunk = 256 * 1024;
constexpr uint64_t kTimerPeriodNs = 50'000'000;  // keep-alive checks and reaping
// New connections wait at most this long: accept4 on every reactor pass would cost a
// syscall per pass on the core that serves I/O.
constexpr uint64_t kAcceptPeriodNs = 1'000'000;
constexpr int kEventsPerPass = 64;
constexpr uint8_t kTlsHandshakeRecord = 0x16;  // a TLS ClientHello starts so; an ICReq with 0
// A host that opens a socket and neither starts TLS nor finishes its handshake in this
// long is dropped: it would hold a connection (and a TLS session's memory) for ever.
constexpr uint64_t kTlsHandshakeTimeoutNs = 10'000'000'000;

// The target's side of the PSK lookup: the identity names the host and the subsystem.
tls::PskMatch find_host_psk(Target& target, const std::string& identity) {
  tls::PskIdentity id;
  if (!tls::parse_identity(identity, &id)) return {};
  std::shared_ptr<const auth::ParsedKey> configured;
  {
    std::lock_guard lock(target.mutex());
    auto sub = target.find_locked(id.subsys_nqn);
    if (!sub) return {};
    auto it = sub->host_psks.find(id.host_nqn);
    if (it == sub->host_psks.end()) return {};
    configured = it->second;
  }
  return tls::target_psk(*configured, id, identity);
}
}  // namespace

struct TcpTransport::Listener {
  TcpTransport* transport;
  ListenerAddress address;
  int fd = -1;
  Poller* poller = nullptr;
};

// A poll group's buffers: the thread's caches of the engine's DMA pools.
class GroupBuffers final : public BufferSource {
 public:
  GroupBuffers(BufferPool* small, BufferPool* large) : small_size_(small->buffer_size()), small_(small), large_(large) {}
  void* get(uint32_t length) override { return length <= small_size_ ? small_.get() : large_.get(); }
  void put(void* buffer, uint32_t length) override { length <= small_size_ ? small_.put(buffer) : large_.put(buffer); }
  void drop() {
    small_.drop();
    large_.drop();
  }

 private:
  size_t small_size_;
  PoolCache small_;
  PoolCache large_;
};

struct TcpTransport::Socket {
  Group* group;
  int fd;
  std::unique_ptr<Connection> protocol;
  // Whether the host speaks TLS is known from its first byte; until then, Undecided.
  enum class Mode { Undecided, Plain, Handshake, Tls } mode = Mode::Undecided;
  std::unique_ptr<tls::TlsChannel> tls;
  uint64_t accepted_ns = 0;
  bool readable = true;         // epoll said so and recv has not yet found it empty
  bool output_pending = false;  // the socket did not take all the output
  bool flush_scheduled = false;
  bool dead = false;
};

// One epoll set per group (edge-triggered) says which sockets have data, so a pass costs
// one epoll_wait rather than a recv per socket, and an idle socket costs nothing.
struct TcpTransport::Group {
  TcpTransport* transport;
  Thread* thread;
  GroupBuffers buffers;
  int epoll_fd = -1;
  Poller* poller = nullptr;
  Poller* timer = nullptr;
  std::vector<std::unique_ptr<Socket>> sockets;  // live
  std::vector<std::unique_ptr<Socket>> zombies;  // closed, waiting for I/O in flight
  std::function<void()> on_empty;                // shutdown: report when nothing is left
  Group(TcpTransport* t, Thread* th, BufferPool* s, BufferPool* l) : transport(t), thread(th), buffers(s, l) {}
};

TcpTransport::TcpTransport(Target& target, Thread& control, std::vector<Thread*> groups, BufferPool* small,
                           BufferPool* large)
    : target_(target), control_(control) {
  for (Thread* t : groups) {
    auto g = std::make_unique<Group>(this, t, small, large);
    Group* raw = g.get();
    raw->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    t->send([raw] {
      raw->timer = raw->thread->register_poller("nvmf-group-timer", poll_group_timer, raw, kTimerPeriodNs);
      // The epoll fd is the poller's interrupt fd: an adaptive reactor sleeps until a socket has data.
      if (raw->epoll_fd >= 0) raw->poller = raw->thread->register_poller("nvmf-group", poll_group, raw, 0, raw->epoll_fd);
    });
    groups_.push_back(std::move(g));
  }
}

TcpTransport::~TcpTransport() {
  // Reactors have stopped (engine teardown) or shutdown() ran: close what is left.
  for (auto& l : listeners_)
    if (l->fd >= 0) ::close(l->fd);
  for (auto& g : groups_) {
    for (auto& s : g->sockets) ::close(s->fd);
    g->sockets.clear();
    g->zombies.clear();
    if (g->epoll_fd >= 0) ::close(g->epoll_fd);
  }
}

// ------------------------------------------------------------------ listeners

Status TcpTransport::listen(ListenerAddress* address) {
  if (address->port != 0 && listening(*address))
    return Status::error(-EEXIST, "already listening on " + address->text());
  SocketAddress sa;
  Status st = resolve_numeric(address->address, address->port, &sa);
  if (!st.is_ok()) return st;
  int fd = socket(sa.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::error(-errno, std::string("socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (sa.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, sa.get(), sa.length) != 0 || ::listen(fd, 128) != 0) {
    int err = errno;
    ::close(fd);
    return Status::error(-err, "cannot listen on " + address->text() + ": " + std::strerror(err));
  }
  address->port = bound_port(fd);
  auto l = std::make_unique<Listener>();
  l->transport = this;
  l->address = *address;
  l->fd = fd;
  l->poller = control_.register_poller("nvmf-listen", poll_listener, l.get(), kAcceptPeriodNs, fd);
  listeners_.push_back(std::move(l));
  return Status::ok();
}

void TcpTransport::stop_listening(const ListenerAddress& address) {
  auto it = std::find_if(listeners_.begin(), listeners_.end(), [&](auto& l) { return l->address == address; });
  if (it == listeners_.end()) return;
  control_.unregister_poller((*it)->poller);
  ::close((*it)->fd);
  // The poller list may still hold the pointer during this pass.
  Listener* raw = it->release();
  listeners_.erase(it);
  control_.defer([](void* p) { delete static_cast<Listener*>(p); }, raw);
}

bool TcpTransport::listening(const ListenerAddress& address) const {
  return std::any_of(listeners_.begin(), listeners_.end(), [&](auto& l) { return l->address == address; });
}

int TcpTransport::poll_listener(void* arg) {
  auto* l = static_cast<Listener*>(arg);
  TcpTransport* self = l->transport;
  int work = 0;
  for (;;) {  // edge-triggered: take every pending connection
    int fd = accept4(l->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) break;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    Group* g = self->groups_[self->next_group_++ % self->groups_.size()].get();
    ListenerAddress via = l->address;
    self->connections_.fetch_add(1);
    g->thread->send([self, g, fd, via] { self->adopt(g, fd, via); });
    ++work;
  }
  return work;
}

// ------------------------------------------------------------------ connections (group thread)

void TcpTransport::adopt(Group* g, int fd, ListenerAddress via) {
  if (g->on_empty) {  // shutting down
    ::close(fd);
    connections_.fetch_sub(1);
    return;
  }
  auto s = std::make_unique<Socket>();
  Socket* raw = s.get();
  raw->group = g;
  raw->fd = fd;
  raw->accepted_ns = monotonic_ns();
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = raw;
  if (g->epoll_fd < 0 || epoll_ctl(g->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    ::close(fd);
    connections_.fetch_sub(1);
    return;
  }
  raw->protocol = std::make_unique<Connection>(target_, std::move(via), g->buffers, g->thread);
  raw->protocol->set_output_hook([raw] {
    if (raw->flush_scheduled || raw->dead) return;
    raw->flush_scheduled = true;
    raw->group->thread->defer(flush_deferred, raw);
  });
  g->sockets.push_back(std::move(s));
}

bool TcpTransport::flush(Socket* s) {
  OutputStream& out = s->protocol->output();
  if (s->tls) {
    // Plaintext waits while the handshake runs (the protocol has none to send then).
    if (s->mode == Socket::Mode::Tls && s->tls->send(out) < 0) s->dead = true;
    return !out.empty() || s->tls->pending();
  }
  if (out.send_to(s->fd) < 0) s->dead = true;
  return !out.empty();  // more to send
}

void TcpTransport::flush_deferred(void* arg) {
  auto* s = static_cast<Socket*>(arg);
  s->flush_scheduled = false;
  if (!s->dead) s->output_pending = flush(s);  // a send that broke the socket: dropped by the next pass
}

int TcpTransport::poll_group(void* arg) {
  auto* g = static_cast<Group*>(arg);
  if (g->sockets.empty()) return 0;  // no syscall on reactors that serve no connection
  epoll_event events[kEventsPerPass];
  int ready = epoll_wait(g->epoll_fd, events, kEventsPerPass, 0);
  for (int i = 0; i < ready; ++i) static_cast<Socket*>(events[i].data.ptr)->readable = true;
  int work = 0;
  for (size_t i = 0; i < g->sockets.size();) {
    Socket* s = g->sockets[i].get();
    if (!s->readable && !s->output_pending && !s->dead) {
      ++i;
      continue;
    }
    work += service(s);
    if (i < g->sockets.size() && g->sockets[i].get() == s) ++i;  // else dropped: the next one moved here
  }
  return ready == kEventsPerPass ? std::max(work, 1) : work;  // more events may be waiting
}

// Until the TLS handshake is done: false while it waits for the host.
bool TcpTransport::start_tls(Socket* s) {
  using Mode = Socket::Mode;
  if (s->mode == Mode::Undecided) {
    uint8_t first = 0;
    ssize_t n = recv(s->fd, &first, 1, MSG_PEEK);
    if (n <= 0) {
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) s->dead = true;
      s->readable = false;
      return false;
    }
    if (first != kTlsHandshakeRecord) {
      s->mode = Mode::Plain;
      return true;
    }
    Target& target = s->group->transport->target_;
    s->tls = tls::TlsChannel::server(s->fd, [&target](const std::string& identity) { return find_host_psk(target, identity); });
    s->mode = Mode::Handshake;
  }
  if (s->mode != Mode::Handshake) return true;
  int rc = s->tls->handshake();
  if (rc == 0) {
    s->readable = false;  // the handshake read the socket dry
    s->output_pending = s->tls->pending();
    return false;
  }
  if (rc < 0) {
    if (rc == -EACCES) s->group->transport->target_.count_error(TransportError::HostRefused);
    s->protocol->close(s->tls->error());
    s->dead = true;
    return false;
  }
  tls::PskIdentity id;
  tls::parse_identity(s->tls->identity(), &id);  // the lookup parsed it already
  s->protocol->set_tls_identity(id.host_nqn, id.subsys_nqn);
  s->mode = Mode::Tls;
  return true;
}

int TcpTransport::service(Socket* s) {
  int work = 0;
  Connection& c = *s->protocol;
  if (s->mode != Socket::Mode::Plain && s->mode != Socket::Mode::Tls && !start_tls(s)) {
    if (!s->dead) return s->output_pending ? 1 : 0;
    drop(s);
    return 1;
  }
  while (s->readable && s->tls) {  // TLS: read records until the socket is empty
    long n = s->tls->read(c.prepare(kReceiveChunk), kReceiveChunk);
    if (n > 0) {
      c.commit(static_cast<size_t>(n));
      c.process();
      ++work;
      if (c.closed()) break;
      continue;
    }
    if (n != -EAGAIN) s->dead = true;
    s->readable = false;
  }
  while (s->readable) {  // edge-triggered: read until the socket is empty
    ssize_t n = recv(s->fd, c.prepare(kReceiveChunk), kReceiveChunk, 0);
    if (n > 0) {
      c.commit(static_cast<size_t>(n));
      c.process();
      ++work;
      if (c.closed()) break;
      // A short read emptied the socket: data arriving later raises a new edge.
      if (static_cast<size_t>(n) < kReceiveChunk) s->readable = false;
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) s->dead = true;
    s->readable = false;
  }
  s->output_pending = flush(s);
  if (s->dead || c.closed()) {
    drop(s);  // whatever a TermReq left in the output was attempted above
    return 1;
  }
  return s->output_pending ? std::max(work, 1) : work;  // output still queued: poll until the socket takes it
}

void TcpTransport::drop(Socket* s) {
  Group* g = s->group;
  // Out of the epoll set before the fd closes: no later pass sees an event for it.
  epoll_ctl(g->epoll_fd, EPOLL_CTL_DEL, s->fd, nullptr);
  ::close(s->fd);
  s->dead = true;
  s->protocol->close("connection closed");
  auto it = std::find_if(g->sockets.begin(), g->sockets.end(), [s](auto& p) { return p.get() == s; });
  if (it == g->sockets.end()) return;
  // Kept until its I/O in flight completes and this pass (which may still hold the poller) ends.
  g->zombies.push_back(std::move(*it));
  g->sockets.erase(it);
}

int TcpTransport::poll_group_timer(void* arg) {
  auto* g = static_cast<Group*>(arg);
  uint64_t now = monotonic_ns();
  for (size_t i = 0; i < g->sockets.size();) {
    Socket* s = g->sockets[i].get();
    const bool handshaking = s->mode == Socket::Mode::Undecided || s->mode == Socket::Mode::Handshake;
    if (handshaking && now - s->accepted_ns > kTlsHandshakeTimeoutNs) {
      if (s->mode == Socket::Mode::Handshake) g->transport->target_.count_error(TransportError::HostRefused);
      drop(s);
      continue;
    }
    s->protocol->check_timers(now);
    if (s->protocol->closed()) {
      flush(s);
      drop(s);
      continue;
    }
    ++i;
  }
  size_t before = g->zombies.size();
  g->zombies.erase(std::remove_if(g->zombies.begin(), g->zombies.end(),
                                  [](auto& z) { return z->protocol->in_flight() == 0 && !z->flush_scheduled; }),
                   g->zombies.end());
  g->transport->connections_.fetch_sub(before - g->zombies.size());
  if (g->on_empty && g->sockets.empty() && g->zombies.empty()) {
    g->thread->unregister_poller(g->timer);
    g->timer = nullptr;
    if (g->poller) g->thread->unregister_poller(g->poller);
    g->poller = nullptr;
    g->buffers.drop();
    auto done = std::move(g->on_empty);
    done();
  }
  return 0;
}

// ------------------------------------------------------------------ control

void TcpTransport::broadcast(std::function<void(Group*)> on_group, std::function<void()> done) {
  auto remaining = std::make_shared<size_t>(groups_.size());
  auto finished = std::make_shared<std::function<void()>>(std::move(done));
  Thread* control = &control_;
  if (groups_.empty()) return (*finished)();
  for (auto& g : groups_) {
    Group* raw = g.get();
    raw->thread->send([raw, on_group, remaining, finished, control] {
      on_group(raw);
      control->send([remaining, finished] {
        if (--*remaining == 0) (*finished)();
      });
    });
  }
}

void TcpTransport::refresh(std::function<void()> done) {
  broadcast(
      [](Group* g) {
        for (auto& s : g->sockets) s->protocol->refresh_namespaces();
      },
      std::move(done));
}

void TcpTransport::shutdown(std::function<void()> done) {
  while (!listeners_.empty()) stop_listening(listeners_.back()->address);
  auto remaining = std::make_shared<size_t>(groups_.size());
  auto finished = std::make_shared<std::function<void()>>(std::move(done));
  if (groups_.empty()) return (*finished)();
  Thread* control = &control_;
  for (auto& g : groups_) {
    Group* raw = g.get();
    raw->thread->send([raw, remaining, finished, control] {
      raw->on_empty = [remaining, finished, control] {
        control->send([remaining, finished] {
          if (--*remaining == 0) (*finished)();
        });
      };
      while (!raw->sockets.empty()) drop(raw->sockets.back().get());
      if (!raw->timer) {  // the group never started its timer: report at once
        auto d = std::move(raw->on_empty);
        d();
      }
    });
  }
}

}  // namespace nds::nvmf
