// JsEngine's core: construction, the completion queue drained on the JS thread,
// management calls (promises settled from the app thread), and stop. Bdev handles are in
// js_engine_handles.cc, I/O submission in js_engine_io.cc.
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

Napi::Value JsEngine::info(Napi::Env env) { return engine_info_value(env, *engine_); }  // caller checks running()

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
    engine_->nvmf().target().set_controller_hook(nullptr);  // no host events during the stop
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
      engine_->nvmf().target().set_controller_hook(nullptr);
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

}  // namespace nds::binding
