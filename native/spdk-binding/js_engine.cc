#include "js_engine.h"
#include "js_nexus.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "bdev/bdev_factory.h"
#include "js_values.h"
#include "thread/io_device.h"

namespace nds::binding {

JsEngine::JsEngine(Napi::Env env, std::unique_ptr<Engine> engine, Napi::Function on_io, Napi::Int32Array io_results)
    : engine_(std::move(engine)),
      on_io_(Napi::Persistent(on_io)),
      io_results_ref_(Napi::Persistent(io_results)),
      io_results_(io_results.Data()),
      io_results_pairs_(io_results.ElementLength() / 2),
      completions_(2 * kMaxIoInFlight),
      small_cache_(&engine_->small_buffers()),
      large_cache_(&engine_->large_buffers()) {
  tsfn_ = Tsfn::New(env, "nodestor-completions", 0, 1, this,
                    [](Napi::Env, void*, JsEngine* self) { self->self_.reset(); });
  // Idle until something is in flight, so a script that is done can exit.
  tsfn_.Unref(env);
}

JsEngine::~JsEngine() = default;

std::shared_ptr<JsEngine> JsEngine::create(Napi::Env env, std::unique_ptr<Engine> engine, Napi::Function on_io,
                                           Napi::Int32Array io_results) {
  std::shared_ptr<JsEngine> js(new JsEngine(env, std::move(engine), on_io, io_results));
  // Queued ThreadSafeFunction calls may still arrive after release; the function's own
  // finalizer drops this last reference, so the object outlives every call.
  js->self_ = js;
  return js;
}

// ---------------------------------------------------------------- completions

void JsEngine::complete(const Completion& completion) {
  completions_.push(completion);  // never fails, never waits on JavaScript
  // Coalesced wake-up: only the first completion after a drain signals JavaScript.
  if (!signaled_.exchange(true, std::memory_order_acq_rel)) tsfn_.NonBlockingCall();
}

void JsEngine::drain_callback(Napi::Env env, Napi::Function, JsEngine* self, void*) {
  if (env == nullptr || self == nullptr) return;  // torn down: nothing to deliver to
  self->drain(env);
}

void JsEngine::drain(Napi::Env env) {
  signaled_.exchange(false, std::memory_order_acq_rel);
  Completion c;
  size_t batch = 0;
  int drained = 0;
  auto flush_io = [&] {
    if (batch == 0) return;
    on_io_.Call({Napi::Number::New(env, static_cast<double>(batch))});
    batch = 0;
  };
  while (completions_.try_pop(&c)) {
    if (!c.control || !c.control->background) ++drained;
    if (c.control) {
      // Settle I/O first so promises resolve in completion order.
      flush_io();
      std::unique_ptr<ControlRequest> req(c.control);
      if (req->status.is_ok()) {
        req->deferred.Resolve(req->result ? req->result(env) : env.Undefined());
      } else {
        req->deferred.Reject(make_error(env, req->status).Value());
      }
      continue;
    }
    IoRequest& done = request(c.slot);
    if (done.batch) {
      for (uint32_t i = 0; i < done.batch->count; ++i) release_bounce(done.batch->requests[i]);
      done.batch = nullptr;
    } else {
      release_bounce(done);
    }
    --io_pending_;
    io_results_[2 * batch] = static_cast<int32_t>(c.slot);
    io_results_[2 * batch + 1] = c.status;
    if (++batch == io_results_pairs_) flush_io();
  }
  flush_io();
  track_pending(-drained);
}

void JsEngine::track_pending(int delta) {
  pending_ = static_cast<uint64_t>(static_cast<int64_t>(pending_) + delta);
  if (finalized_) return;
  if (pending_ > 0 && !tsfn_referenced_) {
    tsfn_.Ref(Napi::Env(on_io_.Env()));
    tsfn_referenced_ = true;
  } else if (pending_ == 0 && tsfn_referenced_) {
    tsfn_.Unref(Napi::Env(on_io_.Env()));
    tsfn_referenced_ = false;
  }
}

void JsEngine::send_control(ControlRequest* req, std::function<void(ControlRequest*)> on_app_thread) {
  track_pending(1);
  engine_->app_thread().send([req, fn = std::move(on_app_thread)] { fn(req); });
}

// ---------------------------------------------------------------- management

Napi::Promise JsEngine::control(Napi::Env env, std::function<void(ControlRequest*)> on_app_thread) {
  auto* req = new ControlRequest(env);
  Napi::Promise promise = req->deferred.Promise();
  send_control(req, std::move(on_app_thread));
  return promise;
}

Napi::Promise JsEngine::control_background(Napi::Env env, std::function<void(ControlRequest*)> on_app_thread) {
  auto* req = new ControlRequest(env);
  req->background = true;
  Napi::Promise promise = req->deferred.Promise();
  engine_->app_thread().send([req, fn = std::move(on_app_thread)] { fn(req); });
  return promise;
}

void JsEngine::finish(ControlRequest* req, Status status, std::function<Napi::Value(Napi::Env)> result) {
  req->status = std::move(status);
  req->result = std::move(result);
  complete(Completion{0, 0, req});
}

Status JsEngine::open_handle(Bdev* bdev, std::shared_ptr<JsBdev>* out) {
  BdevDesc* desc = nullptr;
  Status st = engine_->bdevs().open(bdev->name(), true, &desc);
  if (!st.is_ok()) return st;
  auto handle = std::make_shared<JsBdev>();
  handle->engine = this;
  handle->desc = desc;
  handle->bdev = bdev;
  handle->worker = live_bdevs_.size() % engine_->reactor_count();
  handle->channels.assign(engine_->reactor_count(), nullptr);
  live_bdevs_.insert(handle);
  *out = handle;
  return Status::ok();
}

void JsEngine::release_handles_of(std::vector<const Bdev*> bdevs, std::function<void()> done) {
  for (auto& handle : live_bdevs_) {
    if (std::find(bdevs.begin(), bdevs.end(), handle->bdev) == bdevs.end()) continue;
    // One at a time: each release walks the workers and comes back here.
    return release_bdev_on_app_thread(handle, [this, bdevs = std::move(bdevs), done = std::move(done)]() mutable {
      release_handles_of(std::move(bdevs), std::move(done));
    });
  }
  done();
}

void JsEngine::watch_consumer_bdevs() {
  if (watching_consumer_bdevs_) return;
  watching_consumer_bdevs_ = true;
  BdevManager::HolderHooks hooks;
  hooks.adopted = [this](Bdev* bdev) {
    std::shared_ptr<JsBdev> handle;
    if (!open_handle(bdev, &handle).is_ok()) return;
    handle->held = true;
    std::lock_guard<std::mutex> lock(adopted_mutex_);
    adopted_.emplace_back(handle, bdev_properties(*bdev));
  };
  hooks.release = [this](Bdev* bdev, std::function<void()> then) {
    std::shared_ptr<JsBdev> handle;
    for (auto& h : live_bdevs_)
      if (h->bdev == bdev && h->held) handle = h;
    if (!handle) return then();
    bool unseen = false;
    {
      std::lock_guard<std::mutex> lock(adopted_mutex_);
      auto it = std::find_if(adopted_.begin(), adopted_.end(), [&](auto& a) { return a.first == handle; });
      if (it != adopted_.end()) {
        adopted_.erase(it);  // JavaScript never saw it: nothing to wait for
        unseen = true;
      }
    }
    if (unseen || nexus_bridge().closed()) return release_bdev_on_app_thread(handle, std::move(then));
    // JavaScript stops its I/O on the bdev first, then answers with bdevReleaseHeld(id).
    uint64_t id = next_release_id_++;
    releasing_[id] = {handle, std::move(then)};
    nexus_bridge().request_release(id, bdev->name());
  };
  engine_->bdevs().set_holder_hooks(std::move(hooks));
}

std::vector<std::pair<std::shared_ptr<JsBdev>, BdevProperties>> JsEngine::take_adopted() {
  std::lock_guard<std::mutex> lock(adopted_mutex_);
  return std::exchange(adopted_, {});
}

void JsEngine::release_held(uint64_t id, std::function<void()> done) {
  auto it = releasing_.find(id);
  if (it == releasing_.end()) return done();
  auto [handle, then] = std::move(it->second);
  releasing_.erase(it);
  release_bdev_on_app_thread(handle, [then = std::move(then), done = std::move(done)] {
    then();
    done();
  });
}

void JsEngine::release_pending_held(std::function<void()> done) {
  if (releasing_.empty()) return done();
  release_held(releasing_.begin()->first, [this, done = std::move(done)]() mutable { release_pending_held(std::move(done)); });
}

Napi::Value JsEngine::info(Napi::Env env) { return engine_info_value(env, *engine_); }  // caller checks running()

Napi::Promise JsEngine::create_bdev(Napi::Env env, std::string uri) {
  return control(env, [this, uri = std::move(uri)](ControlRequest* r) {
    create_bdev_from_uri(engine_->bdevs(), uri, [this, r](Status st, Bdev* bdev) {
      std::shared_ptr<JsBdev> handle;
      if (st.is_ok()) st = open_handle(bdev, &handle);
      if (!st.is_ok()) return finish(r, st);
      BdevProperties props = bdev_properties(*bdev);
      finish(r, st, [handle, props](Napi::Env e) { return bdev_created_value(e, handle, props); });
    });
  });
}

void JsEngine::release_bdev_on_app_thread(std::shared_ptr<JsBdev> handle, std::function<void()> done) {
  // Walk the workers one after another; each drops its channel, the last step returns to
  // the app thread and closes the descriptor.
  auto step = std::make_shared<std::function<void(size_t)>>();
  *step = [this, handle, step, done = std::move(done)](size_t worker) {
    if (worker == engine_->reactor_count()) {
      engine_->app_thread().send([this, handle, done, step] {
        engine_->bdevs().close(handle->desc);
        handle->desc = nullptr;
        live_bdevs_.erase(handle);
        *step = nullptr;  // break the self-reference
        done();
      });
      return;
    }
    engine_->worker(worker).send([handle, step, worker] {
      if (handle->channels[worker]) bdev_put_io_channel(handle->channels[worker]);
      handle->channels[worker] = nullptr;
      (*step)(worker + 1);
    });
  };
  (*step)(0);
}

Napi::Promise JsEngine::destroy_bdev(Napi::Env env, std::shared_ptr<JsBdev> handle) {
  auto* req = new ControlRequest(env);
  Napi::Promise promise = req->deferred.Promise();
  // JavaScript stops submitting to a bdev while its destroy is pending; the handle is
  // marked closed (on the JS thread) only once the destroy succeeded.
  send_control(req, [this, handle](ControlRequest* r) {
    std::string name = handle->bdev->name();
    // Refused before our own descriptor is touched: the handle stays usable.
    Status st = engine_->bdevs().check_removable(name, handle->desc ? 1 : 0);
    if (!st.is_ok()) {
      r->status = st;
      return complete(Completion{0, 0, r});
    }
    release_bdev_on_app_thread(handle, [this, r, name, handle] {
      engine_->bdevs().remove(name, [this, r, name, handle](Status removed) {
        // Someone opened or claimed it while our channels were being dropped: refused, so
        // the handle gets a descriptor again and stays usable (and destroyable later).
        if (!removed.is_ok() && engine_->bdevs().open(name, true, &handle->desc).is_ok()) live_bdevs_.insert(handle);
        r->status = removed;
        r->result = [handle](Napi::Env e) {
          handle->closed = true;
          return e.Undefined();
        };
        complete(Completion{0, 0, r});
      });
    });
  });
  return promise;
}

void JsEngine::release_all_bdevs_on_app_thread(std::function<void()> done) {
  if (live_bdevs_.empty()) return done();
  std::shared_ptr<JsBdev> next = *live_bdevs_.begin();
  release_bdev_on_app_thread(next, [this, done = std::move(done)]() mutable {
    release_all_bdevs_on_app_thread(std::move(done));
  });
}

Napi::Promise JsEngine::stop(Napi::Env env) {
  auto* req = new ControlRequest(env);
  Napi::Promise promise = req->deferred.Promise();
  stopping_ = true;
  send_control(req, [this](ControlRequest* r) {
    // Every handle JavaScript still holds is marked closed once the stop has settled, so
    // none can reach the freed bdevs afterwards.
    std::vector<std::shared_ptr<JsBdev>> handles(live_bdevs_.begin(), live_bdevs_.end());
    r->result = [handles](Napi::Env e) {
      for (auto& h : handles) h->closed = true;
      return e.Undefined();
    };
    nexus_bridge().close();
    release_pending_held([this, r] {
      release_all_bdevs_on_app_thread([this, r] { engine_->shutdown_here([this, r] { complete(Completion{0, 0, r}); }); });
    });
  });
  return promise;
}

void JsEngine::finalize() {
  if (finalized_) return;
  finalized_ = true;
  engine_->stop_reactors();
  // Stop the reactors before anything they might touch goes; free the engine (bdev
  // memory, pools) now rather than when the last JavaScript reference is collected.
  small_cache_.drop();
  large_cache_.drop();
  engine_.reset();
  if (tsfn_referenced_) tsfn_.Unref(Napi::Env(on_io_.Env()));
  tsfn_.Release();
}

void JsEngine::stop_for_exit() {
  if (finalized_) return;
  if (!stopping_) {
    stopping_ = true;
    std::atomic<bool> done{false};
    engine_->app_thread().send([this, &done] {
      nexus_bridge().close();
      release_pending_held([this, &done] {
        release_all_bdevs_on_app_thread([this, &done] {
          engine_->shutdown_here([&done] {
            done.store(true, std::memory_order_release);
            done.notify_one();
          });
        });
      });
    });
    done.wait(false, std::memory_order_acquire);
  }
  finalize();
}

// ---------------------------------------------------------------- I/O

IoRequest& JsEngine::request(uint32_t slot) {
  constexpr uint32_t kChunk = 4096;
  while (slab_.size() <= slot / kChunk) slab_.push_back(std::make_unique<IoRequest[]>(kChunk));
  return slab_[slot / kChunk][slot % kChunk];
}

void JsEngine::release_bounce(IoRequest& req) {
  switch (req.bounce) {
    case BounceKind::None: break;
    case BounceKind::Small: small_cache_.put(req.dma); break;
    case BounceKind::Large: large_cache_.put(req.dma); break;
    case BounceKind::Region: engine_->dma().free(req.dma); break;
  }
  req.bounce = BounceKind::None;
}

static void on_io_done(int status, void* arg) {
  auto* req = static_cast<IoRequest*>(arg);
  // The caller's buffer stays referenced by JavaScript until this request is drained, and
  // array buffer memory does not move, so the reactor can fill it directly.
  if (status == 0 && req->js_bytes) std::memcpy(req->js_bytes, req->dma, req->length);
  JsBatch* batch = req->batch;
  if (!batch) return req->bdev->engine->complete(Completion{req->slot, status, nullptr});
  batch->statuses[req->slot] = status;
  if (status != 0) ++batch->failed;
  if (--batch->remaining == 0)
    batch->engine->complete(Completion{batch->slot, static_cast<int32_t>(batch->failed), nullptr});
}

static void run_io(IoRequest* req) {
  JsBdev* handle = req->bdev;
  IoChannel*& ch = handle->channels[handle->worker];
  if (!ch) ch = bdev_get_io_channel(handle->desc);
  if (!ch) return on_io_done(-ENODEV, req);
  int rc = bdev_submit(handle->desc, ch, req->type, req->offset, req->length, req->dma, on_io_done, req);
  if (rc != 0) on_io_done(rc, req);
}

static void run_single(void* arg) { run_io(static_cast<IoRequest*>(arg)); }

static void run_batch(void* arg) {
  auto* batch = static_cast<JsBatch*>(arg);
  // Count first: completions may arrive (deferred) only after this loop, but an I/O that
  // fails at submission completes at once.
  batch->remaining = batch->count;
  batch->failed = 0;
  for (uint32_t i = 0; i < batch->count; ++i) run_io(&batch->requests[i]);
}

bool JsEngine::can_submit() const { return !stopping_ && pending_ < kMaxIoInFlight; }

int JsEngine::prepare_buffer(IoRequest& req, uint8_t* bytes) {
  req.dma = nullptr;
  req.js_bytes = nullptr;
  req.bounce = BounceKind::None;
  if (req.type != IoType::Read && req.type != IoType::Write) return 0;
  // DMA memory at a 4 KiB boundary is used in place (O_DIRECT modules need the alignment);
  // anything else goes through a bounce buffer.
  if (engine_->dma().contains(bytes, req.length) && reinterpret_cast<uintptr_t>(bytes) % 4096 == 0) {
    req.dma = bytes;
    return 0;
  }
  if (req.length <= Engine::kSmallBufferSize) {
    req.dma = static_cast<uint8_t*>(small_cache_.get());
    req.bounce = BounceKind::Small;
  } else if (req.length <= Engine::kLargeBufferSize) {
    req.dma = static_cast<uint8_t*>(large_cache_.get());
    req.bounce = BounceKind::Large;
  }
  if (!req.dma) {
    req.dma = static_cast<uint8_t*>(engine_->dma().alloc(req.length));
    req.bounce = BounceKind::Region;
  }
  if (!req.dma) {
    req.bounce = BounceKind::None;
    // Buffers come back as the I/O in flight completes: JavaScript waits for them (the
    // dispatcher's backlog retries on each completion batch). Only with nothing in flight
    // to wait for is the memory really too small for this I/O.
    return io_pending_ > 0 ? -EAGAIN : -ENOMEM;
  }
  if (req.type == IoType::Write) {
    std::memcpy(req.dma, bytes, req.length);  // the data is captured at call time
  } else {
    req.js_bytes = bytes;
  }
  return 0;
}

int JsEngine::submit_io(JsBdev* handle, IoType type, uint32_t slot, uint64_t offset, uint64_t length, uint8_t* bytes) {
  if (stopping_ || handle->closed) return -ENODEV;
  if (slot >= kMaxIoInFlight) return -EINVAL;
  if (!can_submit()) return -EAGAIN;
  IoRequest& req = request(slot);
  req = IoRequest{handle, type, offset, length, nullptr, nullptr, BounceKind::None, slot, nullptr};
  int rc = prepare_buffer(req, bytes);
  if (rc != 0) return rc;
  engine_->worker(handle->worker).send(run_single, &req);
  track_pending(1);
  ++io_pending_;
  return 0;
}

int JsEngine::submit_batch(JsBdev* handle, JsBatch* batch, uint32_t slot, const std::vector<uint8_t*>& bytes) {
  if (stopping_ || handle->closed) return -ENODEV;
  if (slot >= kMaxIoInFlight || batch->count == 0) return -EINVAL;
  if (!can_submit()) return -EAGAIN;
  for (uint32_t i = 0; i < batch->count; ++i) {
    IoRequest& req = batch->requests[i];
    req.bdev = handle;
    req.slot = i;
    req.batch = batch;
    int rc = prepare_buffer(req, bytes[i]);
    if (rc != 0) {
      for (uint32_t j = 0; j < i; ++j) release_bounce(batch->requests[j]);
      return rc;
    }
  }
  batch->engine = this;
  batch->slot = slot;
  IoRequest& entry = request(slot);
  entry = IoRequest{handle, IoType::Read, 0, 0, nullptr, nullptr, BounceKind::None, slot, batch};
  engine_->worker(handle->worker).send(run_batch, batch);
  track_pending(1);
  ++io_pending_;
  return 0;
}

Napi::Promise JsEngine::bench(Napi::Env env, BenchOptions options) {
  auto* req = new ControlRequest(env);
  Napi::Promise promise = req->deferred.Promise();
  send_control(req, [this, options = std::move(options)](ControlRequest* r) {
    run_bench(*engine_, options, [this, r](Status st, BenchResult result) {
      r->status = st;
      if (st.is_ok()) {
        auto shared = std::make_shared<BenchResult>(std::move(result));
        r->result = [shared](Napi::Env e) { return bench_result_value(e, *shared); };
      }
      complete(Completion{0, 0, r});
    });
  });
  return promise;
}

Napi::Value JsEngine::alloc_buffer(Napi::Env env, size_t size) {
  void* mem = engine_->dma().alloc(size);
  if (!mem) {
    DmaStats s = engine_->dma().stats();
    Napi::Error err = make_error(env, Status::error(-ENOMEM, "no " + std::to_string(size) + " bytes of DMA memory left (" +
                                                                 std::to_string(s.free_bytes) + " of " +
                                                                 std::to_string(s.reserved_bytes) + " free)"));
    err.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // The buffer keeps the region mapped even after the engine stops.
  auto* keep = new std::shared_ptr<DmaRegion>(engine_->dma_shared());
  return Napi::Buffer<uint8_t>::New(env, static_cast<uint8_t*>(mem), size,
                                    [](Napi::Env, uint8_t* data, std::shared_ptr<DmaRegion>* region) {
                                      (*region)->free(data);
                                      delete region;
                                    },
                                    keep);
}

}  // namespace nds::binding
