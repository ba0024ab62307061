// JsEngine's bdev handles: the descriptors and channels JavaScript holds open, created
// by createBdev or adopted from consumers (a nexus's children), and their release.
#include <algorithm>
#include <utility>

#include "bdev/bdev_factory.h"
#include "js_engine.h"
#include "js_nexus.h"
#include "js_values.h"
#include "thread/io_device.h"

namespace nds::binding {

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

void JsEngine::install_engine_hooks() {
  if (engine_hooks_installed_) return;
  engine_hooks_installed_ = true;
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
  // Hosts' controllers coming and going reach JavaScript with the nexus events. The hook
  // runs on a poll-group thread under the target's mutex: hand over to the app thread.
  engine_->nvmf().target().set_controller_hook(
      [this](const std::string& subnqn, const std::string& hostnqn, uint16_t cntlid, bool connected) {
        engine_->app_thread().send([this, subnqn, hostnqn, cntlid, connected] {
          nexus_bridge().post_host(subnqn, hostnqn, cntlid, connected);
        });
      });
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

}  // namespace nds::binding
