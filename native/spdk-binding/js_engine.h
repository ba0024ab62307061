// The binding's per-engine state: the native Engine, the one completion queue through
// which every reactor hands results back to JavaScript, the ThreadSafeFunction that drains
// it in batches, and the slab of JavaScript I/O requests. N-API glue only: everything
// below goes through native/engine's public headers.
#pragma once
#include <napi.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "bench/bdevperf.h"
#include "engine.h"
#include "env/buffer_pool.h"
#include "js_values.h"
#include "thread/mpsc_queue.h"

namespace nds::binding {

class JsEngine;
class NexusBridge;

// A bdev as JavaScript holds it: a descriptor opened on the app thread and, per reactor,
// the channel its worker thread uses (touched only by that worker).
struct JsBdev {
  JsEngine* engine;
  BdevDesc* desc;
  Bdev* bdev;
  size_t worker;  // reactor whose worker thread runs this bdev's JavaScript I/O
  std::vector<IoChannel*> channels;
  bool closed = false;  // JS thread
  // Opened for JavaScript on a bdev a consumer created for itself (a nexus's child from a
  // URI): released when that consumer removes the bdev (JsEngine::release_held).
  bool held = false;
};

// A management call in flight: the promise and how to build its result once settled.
struct ControlRequest {
  explicit ControlRequest(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise::Deferred deferred;
  Status status;
  std::function<Napi::Value(Napi::Env)> result;  // runs on the JS thread; may be empty
  bool background = false;  // a long wait (events) that must not keep the process alive
};

enum class BounceKind : uint8_t { None, Small, Large, Region };

struct JsBatch;

// One JavaScript I/O. A single I/O's slot is chosen by JavaScript and indexes the slab; an
// I/O inside a batch lives in the batch, and `slot` is its index there.
struct IoRequest {
  JsBdev* bdev;
  IoType type;
  uint64_t offset;
  uint64_t length;
  uint8_t* dma;       // memory the bdev reads or writes
  uint8_t* js_bytes;  // the caller's memory to fill after a bounced read, else nullptr
  BounceKind bounce;
  uint32_t slot;
  JsBatch* batch;     // set on a batch's slab entry and on the I/Os inside it
};

// Many I/Os submitted with one call and one message, completed with one completion.
struct JsBatch {
  explicit JsBatch(uint32_t capacity) : requests(capacity) {}
  std::vector<IoRequest> requests;
  uint32_t count = 0;
  uint32_t remaining = 0;  // worker thread while in flight
  uint32_t failed = 0;     // worker thread while in flight
  uint32_t slot = 0;       // the batch's slot in the slab
  int32_t* statuses = nullptr;  // JavaScript memory, one status per I/O
  JsEngine* engine = nullptr;
};

struct Completion {
  uint32_t slot;
  int32_t status;
  ControlRequest* control;  // non-null for management calls
};

class JsEngine {
 public:
  static constexpr uint32_t kMaxIoInFlight = 65536;

  static std::shared_ptr<JsEngine> create(Napi::Env env, std::unique_ptr<Engine> engine, Napi::Function on_io,
                                          Napi::Int32Array io_results);
  ~JsEngine();

  bool running() const { return !stopping_; }
  bool finalized() const { return finalized_; }

  // ---- management (JS thread) ----
  Napi::Value info(Napi::Env env);
  Napi::Promise create_bdev(Napi::Env env, std::string uri);
  Napi::Promise destroy_bdev(Napi::Env env, std::shared_ptr<JsBdev> bdev);
  Napi::Promise stop(Napi::Env env);
  // After a stop settled: joins the reactors and releases the ThreadSafeFunction.
  void finalize();
  // Process exit without stop(): a blocking stop that never calls into JavaScript.
  void stop_for_exit();

  // ---- I/O (JS thread) ----
  // 0, or a negative errno: -EAGAIN when too much is in flight (queue it and retry).
  int submit_io(JsBdev* bdev, IoType type, uint32_t slot, uint64_t offset, uint64_t length, uint8_t* bytes);
  // The batch's requests were filled by the caller (type, offset, length, js bytes);
  // buffers are prepared here and everything goes to the worker in one message.
  int submit_batch(JsBdev* bdev, JsBatch* batch, uint32_t slot, const std::vector<uint8_t*>& bytes);
  Napi::Promise bench(Napi::Env env, BenchOptions options);
  Napi::Value alloc_buffer(Napi::Env env, size_t size);

  // ---- reactor side ----
  void complete(const Completion& completion);

  // ---- building blocks for management calls (js_pools.cc) ----
  Engine& engine() { return *engine_; }
  // JS thread: a promise settled by finish(); `on_app_thread` runs there with the request.
  Napi::Promise control(Napi::Env env, std::function<void(ControlRequest*)> on_app_thread);
  // The same for a long wait that must not keep the process alive (event delivery).
  Napi::Promise control_background(Napi::Env env, std::function<void(ControlRequest*)> on_app_thread);
  // App thread: settles the request; `result` builds the value on the JS thread.
  void finish(ControlRequest* req, Status status, std::function<Napi::Value(Napi::Env)> result = nullptr);
  // App thread: opens a descriptor for JavaScript on the bdev.
  Status open_handle(Bdev* bdev, std::shared_ptr<JsBdev>* out);
  // Events and persistence requests of nexuses (js_nexus.cc); app thread.
  NexusBridge& nexus_bridge();
  // App thread: releases the JavaScript handles on these bdevs (channels, descriptors).
  void release_handles_of(std::vector<const Bdev*> bdevs, std::function<void()> done);

  // App thread, once: the BdevManager holder hooks (bdevs consumers create for themselves,
  // such as nexus children from URIs) and the target's controller hook (host events).
  void install_engine_hooks();

  // ---- bdevs consumers create for themselves (nexus children from URIs) ----
  // JS thread: the handles opened since the last call, for JavaScript to adopt.
  std::vector<std::pair<std::shared_ptr<JsBdev>, BdevProperties>> take_adopted();
  // App thread: JavaScript stopped using release `id`'s handle: release it, continue.
  void release_held(uint64_t id, std::function<void()> done);
  // App thread, engine stop: every release JavaScript has not answered, done now.
  void release_pending_held(std::function<void()> done);

 private:
  JsEngine(Napi::Env env, std::unique_ptr<Engine> engine, Napi::Function on_io, Napi::Int32Array io_results);
  IoRequest& request(uint32_t slot);
  // Points req.dma at the caller's bytes (zero-copy DMA memory) or at a bounce buffer,
  // copying a write's data now. -EAGAIN when no buffer is left but I/O in flight will
  // return some; -ENOMEM when nothing is in flight to wait for.
  int prepare_buffer(IoRequest& req, uint8_t* bytes);
  void release_bounce(IoRequest& req);
  bool can_submit() const;
  void drain(Napi::Env env);
  void track_pending(int delta);
  void send_control(ControlRequest* req, std::function<void(ControlRequest*)> on_app_thread);
  // App thread: every worker drops its channel for the bdev, then the descriptor closes.
  void release_bdev_on_app_thread(std::shared_ptr<JsBdev> bdev, std::function<void()> done);
  void release_all_bdevs_on_app_thread(std::function<void()> done);
  static void drain_callback(Napi::Env env, Napi::Function, JsEngine* self, void*);

  std::shared_ptr<JsEngine> self_;  // released by the ThreadSafeFunction's finalizer
  std::unique_ptr<Engine> engine_;
  using Tsfn = Napi::TypedThreadSafeFunction<JsEngine, void, drain_callback>;
  Tsfn tsfn_;
  Napi::FunctionReference on_io_;
  Napi::Reference<Napi::Int32Array> io_results_ref_;
  int32_t* io_results_;
  size_t io_results_pairs_;

  MpscQueue<Completion> completions_;
  std::atomic<bool> signaled_{false};
  uint64_t pending_ = 0;   // JS thread: requests whose completion has not been drained
  uint64_t io_pending_ = 0;  // JS thread: of those, I/Os (each may hold a bounce buffer)
  bool tsfn_referenced_ = false;
  bool stopping_ = false;  // JS thread
  bool finalized_ = false;

  std::vector<std::unique_ptr<IoRequest[]>> slab_;
  PoolCache small_cache_;
  PoolCache large_cache_;
  // Bdevs JavaScript holds open: touched on the app thread, and on the JS thread only after
  // a stop has settled (the completion queue orders the two).
  std::unordered_set<std::shared_ptr<JsBdev>> live_bdevs_;
  std::unique_ptr<NexusBridge> nexus_bridge_;
  bool engine_hooks_installed_ = false;  // app thread
  std::mutex adopted_mutex_;
  std::vector<std::pair<std::shared_ptr<JsBdev>, BdevProperties>> adopted_;
  // App thread: releases asked of JavaScript, by id: the handle and what continues after.
  std::map<uint64_t, std::pair<std::shared_ptr<JsBdev>, std::function<void()>>> releasing_;
  uint64_t next_release_id_ = 1;
};

}  // namespace nds::binding
