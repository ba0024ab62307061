#include "thread/thread.h"

#include <algorithm>

#include "thread/reactor.h"
#include "util/stream_copy.h"

namespace nds {

static thread_local Thread* tls_current_thread = nullptr;

Thread* Thread::current() { return tls_current_thread; }

bool Thread::current_may_sleep() {
  Thread* thread = tls_current_thread;
  Reactor* r = thread ? thread->reactor() : nullptr;
  return r && r->idle_mode() == IdleMode::Adaptive;
}

Thread::Thread(std::string name, size_t ring_capacity) : name_(std::move(name)), queue_(ring_capacity) {}

Thread::~Thread() {
  // Closures still queued at teardown are freed by running nothing: drain and drop them.
  Message msg;
  while (queue_.try_pop(&msg)) {
  }
}

void Thread::send(MsgFn fn, void* arg) {
  queue_.push(Message{fn, arg});
  if (Reactor* r = reactor()) r->notify();
}

static void run_closure(void* arg) {
  std::unique_ptr<std::function<void()>> fn(static_cast<std::function<void()>*>(arg));
  (*fn)();
}

void Thread::send(std::function<void()> fn) { send(run_closure, new std::function<void()>(std::move(fn))); }

Poller* Thread::register_poller(std::string name, Poller::Fn fn, void* arg, uint64_t period_ns, int interrupt_fd) {
  auto poller = std::make_unique<Poller>();
  poller->name = std::move(name);
  poller->fn = fn;
  poller->arg = arg;
  poller->period_ns = period_ns;
  poller->interrupt_fd = interrupt_fd;
  Poller* raw = poller.get();
  pollers_.push_back(std::move(poller));
  if (Reactor* r = reactor(); r && interrupt_fd >= 0) r->watch_fd(interrupt_fd);
  return raw;
}

void Thread::unregister_poller(Poller* poller) {
  // Removal is deferred to the end of the pass: the poller may be unregistering itself.
  poller->removed = true;
  pollers_changed_ = true;
  if (Reactor* r = reactor(); r && poller->interrupt_fd >= 0) r->unwatch_fd(poller->interrupt_fd);
}

void Thread::defer(MsgFn fn, void* arg) { deferred_.push_back(Message{fn, arg}); }

int Thread::run_deferred() {
  int work = 0;
  // Deferred calls may defer more; bound the rounds so one pass cannot spin forever.
  for (int round = 0; round < 8 && !deferred_.empty(); ++round) {
    if (fence_pending_) {
      store_fence();
      fence_pending_ = false;
    }
    deferred_running_.swap(deferred_);
    for (const Message& m : deferred_running_) m.fn(m.arg);
    work += static_cast<int>(deferred_running_.size());
    deferred_running_.clear();
  }
  return work;
}

int Thread::poll(uint64_t now_ns) {
  Thread* previous = tls_current_thread;
  tls_current_thread = this;
  int work = 0;
  Message msg;
  for (int i = 0; i < 1024 && queue_.try_pop(&msg); ++i) {
    msg.fn(msg.arg);
    ++work;
  }
  work += run_deferred();
  for (size_t i = 0; i < pollers_.size(); ++i) {
    Poller* p = pollers_[i].get();
    if (p->removed) continue;
    if (p->period_ns != 0) {
      if (now_ns < p->next_run_ns) continue;
      p->next_run_ns = now_ns + p->period_ns;
    }
    int rc = p->fn(p->arg);
    ++p->runs;
    if (rc > 0) {
      ++p->busy_runs;
      work += rc;
    }
  }
  work += run_deferred();
  if (pollers_changed_) {
    pollers_.erase(std::remove_if(pollers_.begin(), pollers_.end(), [](auto& p) { return p->removed; }), pollers_.end());
    pollers_changed_ = false;
  }
  tls_current_thread = previous;
  return work;
}

uint64_t Thread::next_deadline_ns() const {
  uint64_t next = UINT64_MAX;
  for (auto& p : pollers_)
    if (!p->removed && p->period_ns != 0 && p->interrupt_fd < 0) next = std::min(next, p->next_run_ns);
  return next;
}

void Thread::after_sleep() {
  for (auto& p : pollers_)
    if (!p->removed && p->period_ns != 0 && p->interrupt_fd >= 0) p->next_run_ns = 0;
}

bool Thread::has_pending_work() const {
  return !queue_.empty() || !deferred_.empty();
}

bool Thread::needs_busy_poll() const {
  for (auto& p : pollers_)
    if (!p->removed && p->period_ns == 0 && p->interrupt_fd < 0) return true;
  return false;
}

void Thread::collect_interrupt_fds(std::vector<int>* fds) const {
  for (auto& p : pollers_)
    if (!p->removed && p->interrupt_fd >= 0) fds->push_back(p->interrupt_fd);
}

namespace {
struct OneShot {
  Poller* poller = nullptr;
  std::function<void()> fn;
};
}  // namespace

void Thread::run_after(uint64_t delay_ns, std::string name, std::function<void()> fn) {
  auto* shot = new OneShot{nullptr, std::move(fn)};
  shot->poller = register_poller(std::move(name), [](void* arg) -> int {
    std::unique_ptr<OneShot> self(static_cast<OneShot*>(arg));
    Thread::current()->unregister_poller(self->poller);
    self->fn();
    return 1;
  }, shot, delay_ns);
}

}  // namespace nds
