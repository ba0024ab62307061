// JsEngine's I/O: the request slab, bounce buffers, single and batched submission to
// each bdev's worker thread, the bench, and DMA buffers for zero-copy I/O.
#include <cstring>

#include "js_engine.h"
#include "js_values.h"
#include "thread/io_device.h"

namespace nds::binding {


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
