// Test helpers: run a closure on a lightweight thread and wait for it to finish; the
// same for an asynchronous app-thread operation; engines and bdevs for a test.
#pragma once
#include <future>

#include "bdev/bdev_factory.h"
#include "engine.h"
#include "thread/thread.h"

namespace nds::testing {

// An engine for a test: one reactor on core 0, ordinary pages; nullptr if it cannot start.
inline std::unique_ptr<Engine> start_test_engine(uint64_t memory_bytes) {
  EngineOptions o;
  o.memory_bytes = memory_bytes;
  o.hugepages = HugepageMode::Off;
  std::unique_ptr<Engine> engine;
  std::string warning;
  return Engine::start(o, &engine, &warning).is_ok() ? std::move(engine) : nullptr;
}

// Shuts the engine down (bdevs, pools, nexuses, NVMe-oF) and stops its reactors.
inline void stop_test_engine(Engine& engine) {
  std::promise<void> stopped;
  engine.shutdown([&] { stopped.set_value(); });
  stopped.get_future().wait();
  engine.stop_reactors();
}

template <typename Fn>
void run_on(Thread& thread, Fn fn) {
  std::promise<void> done;
  thread.send([&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

// Runs op(done) on the app thread and waits for the value op hands to done.
template <typename T = Status, typename Fn>
T on_app(Engine& engine, Fn op) {
  std::promise<T> result;
  run_on(engine.app_thread(), [&] { op([&result](T value) { result.set_value(std::move(value)); }); });
  return result.get_future().get();
}

// A bdev made from `uri` on the app thread (the factory's status).
inline Status create_bdev(Engine& engine, const std::string& uri) {
  return on_app(engine, [&](auto done) { create_bdev_from_uri(engine.bdevs(), uri, [done](Status st, Bdev*) { done(st); }); });
}

inline Status remove_bdev(Engine& engine, const std::string& name) {
  return on_app(engine, [&](auto done) { engine.bdevs().remove(name, done); });
}

// One I/O on bdev `name`, submitted from a reactor's worker thread; waits for its status.
inline int run_io(Engine& engine, const std::string& name, IoType type, uint64_t offset, uint64_t length, void* buf,
                  size_t reactor = 0) {
  BdevDesc* desc = nullptr;
  run_on(engine.app_thread(), [&] { engine.bdevs().open(name, true, &desc); });
  if (!desc) return -ENOENT;
  std::promise<int> done;
  run_on(engine.worker(reactor), [&] {
    struct Ctx {
      std::promise<int>* done;
      IoChannel* ch;
    };
    auto* ctx = new Ctx{&done, bdev_get_io_channel(desc)};
    int rc = bdev_submit(desc, ctx->ch, type, offset, length, buf, [](int status, void* arg) {
      auto* c = static_cast<Ctx*>(arg);
      bdev_put_io_channel(c->ch);
      c->done->set_value(status);
      delete c;
    }, ctx);
    if (rc != 0) {
      bdev_put_io_channel(ctx->ch);
      delete ctx;
      done.set_value(rc);
    }
  });
  int status = done.get_future().get();
  run_on(engine.app_thread(), [&] { engine.bdevs().close(desc); });
  return status;
}

}  // namespace nds::testing
