#include "thread/reactor.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>

#include "env/cpu.h"
#include "env/time.h"
#include "thread/thread.h"

namespace nds {

Reactor::Reactor(uint32_t index, int core, IdleMode mode, uint64_t spin_ns)
    : index_(index), core_(core), mode_(mode), spin_ns_(spin_ns), incoming_(256) {}

Reactor::~Reactor() {
  stop();
  if (event_fd_ >= 0) close(event_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

Status Reactor::start() {
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (event_fd_ < 0 || epoll_fd_ < 0) return Status::error(-errno, std::string("reactor setup failed: ") + strerror(errno));
  watch_fd(event_fd_);
  // The pinning result is reported back before start() returns so a bad core is an error
  // of Engine.start, not a silent unpinned reactor.
  std::atomic<int> ready{0};
  os_thread_ = std::thread([this, &ready] {
    start_status_ = pin_current_thread(core_);
    ready.store(1, std::memory_order_release);
    ready.notify_one();
    if (start_status_.is_ok()) run();
  });
  ready.wait(0, std::memory_order_acquire);
  if (!start_status_.is_ok()) {
    os_thread_.join();
    return start_status_;
  }
  return Status::ok();
}

void Reactor::stop() {
  if (!os_thread_.joinable()) return;
  exit_.store(true, std::memory_order_seq_cst);
  uint64_t one = 1;
  ssize_t ignored = write(event_fd_, &one, sizeof(one));
  (void)ignored;
  os_thread_.join();
}

bool Reactor::schedule(Thread* thread) {
  thread->reactor_.store(this, std::memory_order_release);
  if (!incoming_.try_push(thread)) return false;
  thread_count_.fetch_add(1, std::memory_order_relaxed);
  notify();
  return true;
}

void Reactor::notify() {
  // Pairs with the exchange in run(). Both are read-modify-writes of sleeping_, so one
  // comes first: if ours, the loop's exchange reads it and so sees our message when it
  // re-checks before sleeping; if the loop's, we read `true` and write the eventfd. (The
  // same as a fence on each side, in a form ThreadSanitizer understands.)
  if (sleeping_.fetch_or(0, std::memory_order_acq_rel) != 0) {
    uint64_t one = 1;
    ssize_t ignored = write(event_fd_, &one, sizeof(one));
    (void)ignored;
  }
}

void Reactor::watch_fd(int fd) {
  epoll_event ev{};
  // Edge-triggered for pollers' fds (completion eventfds): every new signal wakes us, and
  // the poller never has to spend a syscall draining the counter on the I/O path. Our own
  // message eventfd is drained in sleep_until, so level or edge makes no difference there.
  ev.events = EPOLLIN | EPOLLET;
  ev.data.fd = fd;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
}

void Reactor::unwatch_fd(int fd) { epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

ReactorStats Reactor::stats() const {
  return ReactorStats{busy_ns_.load(std::memory_order_relaxed), idle_ns_.load(std::memory_order_relaxed),
                      sleeps_.load(std::memory_order_relaxed), thread_count_.load(std::memory_order_relaxed)};
}

bool Reactor::anything_pending() const {
  if (!incoming_.empty()) return true;
  for (Thread* t : threads_)
    if (t->has_pending_work() || t->needs_busy_poll()) return true;
  return false;
}

void Reactor::sleep_until(uint64_t deadline_ns) {
  epoll_event events[16];
  timespec timeout{};
  timespec* timeout_ptr = nullptr;
  if (deadline_ns != UINT64_MAX) {
    uint64_t now = now_ns();
    uint64_t wait = deadline_ns > now ? deadline_ns - now : 0;
    timeout.tv_sec = static_cast<time_t>(wait / 1000000000ull);
    timeout.tv_nsec = static_cast<long>(wait % 1000000000ull);
    timeout_ptr = &timeout;
  }
  int n = epoll_pwait2(epoll_fd_, events, 16, timeout_ptr, nullptr);
  for (int i = 0; i < n; ++i) {
    if (events[i].data.fd == event_fd_) {
      uint64_t count;
      ssize_t ignored = read(event_fd_, &count, sizeof(count));
      (void)ignored;
    }
  }
}

void Reactor::run() {
  uint64_t last = now_ns();
  uint64_t idle_since = last;
  while (!exit_.load(std::memory_order_relaxed)) {
    Thread* arriving;
    while (incoming_.try_pop(&arriving)) {
      threads_.push_back(arriving);
      std::vector<int> fds;
      arriving->collect_interrupt_fds(&fds);
      for (int fd : fds) watch_fd(fd);
    }
    int work = 0;
    for (Thread* t : threads_) work += t->poll(last);
    uint64_t now = now_ns();
    if (work > 0) {
      busy_ns_.fetch_add(now - last, std::memory_order_relaxed);
      idle_since = now;
    } else {
      idle_ns_.fetch_add(now - last, std::memory_order_relaxed);
    }
    last = now;
    if (mode_ != IdleMode::Adaptive || work > 0 || now - idle_since < spin_ns_) continue;

    uint64_t deadline = UINT64_MAX;
    for (Thread* t : threads_) deadline = std::min(deadline, t->next_deadline_ns());
    if (deadline <= now) continue;
    sleeping_.exchange(1, std::memory_order_acq_rel);  // see notify()
    if (!anything_pending() && !exit_.load(std::memory_order_relaxed)) {
      sleeps_.fetch_add(1, std::memory_order_relaxed);
      sleep_until(deadline);
      for (Thread* t : threads_) t->after_sleep();
    }
    sleeping_.store(0, std::memory_order_relaxed);
    now = now_ns();
    idle_ns_.fetch_add(now - last, std::memory_order_relaxed);
    last = now;
  }
  // Leave the threads unscheduled so their owner may destroy them.
  for (Thread* t : threads_) t->reactor_.store(nullptr, std::memory_order_release);
  threads_.clear();
}

}  // namespace nds
