// N-API entry points, typed 1:1 by src/binding.ts. Arguments were validated in TypeScript;
// here they are checked again only so that a wrong call throws instead of crashing.
#include <napi.h>

#include "bdev/bdev_module.h"
#include "js_engine.h"
#include "js_nexus.h"
#include "js_nvmf.h"
#include "js_pools.h"
#include "js_values.h"

namespace nds::binding {
namespace {

// One engine per process (the reactors pin cores and the memory is reserved for it).
struct AddonState {
  bool starting = false;
  std::shared_ptr<JsEngine> active;
};

AddonState& state(Napi::Env env) { return *env.GetInstanceData<AddonState>(); }

bool check(bool ok, Napi::Env env, const char* message) {
  if (!ok) Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return ok;
}

class StartWorker : public Napi::AsyncWorker {
 public:
  StartWorker(Napi::Env env, EngineOptions options, Napi::Function on_io, Napi::Int32Array results)
      : Napi::AsyncWorker(env, "nodestor-start"),
        deferred_(Napi::Promise::Deferred::New(env)),
        options_(std::move(options)),
        on_io_(Napi::Persistent(on_io)),
        results_(Napi::Persistent(results)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  // Reserving (and pre-faulting) the DMA region can take a while: off the JS thread.
  void Execute() override { status_ = Engine::start(options_, &engine_, &warning_); }

  void OnOK() override {
    Napi::Env env = Env();
    AddonState& st = state(env);
    st.starting = false;
    if (!status_.is_ok()) {
      deferred_.Reject(make_error(env, status_).Value());
      return;
    }
    bool hugepages = engine_->dma().stats().hugepages;
    st.active = JsEngine::create(env, std::move(engine_), on_io_.Value(), results_.Value());
    Napi::Object out = Napi::Object::New(env);
    out.Set("handle", wrap_engine(env, st.active));
    out.Set("warning", warning_.empty() ? env.Null() : Napi::String::New(env, warning_));
    out.Set("hugepages", hugepages);
    deferred_.Resolve(out);
  }

 private:
  Napi::Promise::Deferred deferred_;
  EngineOptions options_;
  Napi::FunctionReference on_io_;
  Napi::Reference<Napi::Int32Array> results_;
  std::unique_ptr<Engine> engine_;
  std::string warning_;
  Status status_;
};

// engineStart({ cores, memoryMb, hugepages, idle }, onIo(count), ioResults: Int32Array)
Napi::Value EngineStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!check(info.Length() == 3 && info[0].IsObject() && info[1].IsFunction() && info[2].IsTypedArray(), env,
             "engineStart(options, onIo, ioResults)"))
    return env.Undefined();
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Value cores = o.Get("cores"), memory = o.Get("memoryMb"), huge = o.Get("hugepages"), idle = o.Get("idle");
  if (!check(cores.IsArray() && memory.IsNumber() && huge.IsString() && idle.IsString(), env, "bad engine options"))
    return env.Undefined();
  EngineOptions options;
  options.cores.clear();
  Napi::Array list = cores.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) options.cores.push_back(list.Get(i).As<Napi::Number>().Int32Value());
  options.memory_bytes = static_cast<uint64_t>(memory.As<Napi::Number>().Int64Value()) << 20;
  std::string h = huge.As<Napi::String>();
  options.hugepages = h == "require" ? HugepageMode::Require : h == "off" ? HugepageMode::Off : HugepageMode::Auto;
  options.idle = idle.As<Napi::String>().Utf8Value() == "poll" ? IdleMode::Poll : IdleMode::Adaptive;

  AddonState& st = state(env);
  if (st.starting || st.active) {
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(make_error(env, Status::error(-EBUSY, "an engine is already running in this process; stop it first")).Value());
    return deferred.Promise();
  }
  st.starting = true;
  auto* worker = new StartWorker(env, std::move(options), info[1].As<Napi::Function>(), info[2].As<Napi::Int32Array>());
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value EngineInfo(const Napi::CallbackInfo& info) {
  JsEngine* engine = running_engine(info);
  return engine ? engine->info(info.Env()) : info.Env().Undefined();
}

Napi::Value EngineStop(const Napi::CallbackInfo& info) {
  JsEngine* engine = running_engine(info);
  return engine ? engine->stop(info.Env()) : info.Env().Undefined();
}

// After engineStop settled: joins the reactors, releases the completion function.
Napi::Value EngineFinalize(const Napi::CallbackInfo& info) {
  JsEngine* engine = unwrap_engine(info[0]);
  if (!engine) return info.Env().Undefined();
  engine->finalize();
  AddonState& st = state(info.Env());
  if (st.active.get() == engine) st.active.reset();
  return info.Env().Undefined();
}

Napi::Value BdevCreate(const Napi::CallbackInfo& info) {
  JsEngine* engine = running_engine(info);
  if (!engine || !check(info[1].IsString(), info.Env(), "uri must be a string")) return info.Env().Undefined();
  return engine->create_bdev(info.Env(), info[1].As<Napi::String>());
}

Napi::Value BdevDestroy(const Napi::CallbackInfo& info) {
  JsEngine* engine = running_engine(info);
  if (!engine) return info.Env().Undefined();
  auto bdev = unwrap_bdev(info[1]);
  return bdev ? engine->destroy_bdev(info.Env(), bdev) : info.Env().Undefined();
}

Napi::Value BdevStats(const Napi::CallbackInfo& info) {
  auto bdev = unwrap_bdev(info[0]);
  if (!bdev) return info.Env().Undefined();
  if (bdev->closed) {
    make_error(info.Env(), Status::error(-ENODEV, "bdev is destroyed")).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return bdev_stats_value(info.Env(), bdev->bdev->stats());
}

Napi::Value BdevResetStats(const Napi::CallbackInfo& info) {
  auto bdev = unwrap_bdev(info[0]);
  if (bdev && !bdev->closed) bdev->bdev->reset_stats();
  return info.Env().Undefined();
}

// bdevIo(engine, bdev, op, slot, offset, length, buffer | null) -> 0 | -errno
Napi::Value BdevIo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsEngine* engine = unwrap_engine(info[0]);
  if (!engine) return env.Undefined();
  auto bdev = unwrap_bdev(info[1]);
  if (!bdev) return env.Undefined();
  int op = info[2].As<Napi::Number>().Int32Value();
  if (!check(op >= 0 && op < kIoTypeCount, env, "bad I/O type")) return env.Undefined();
  auto slot = static_cast<uint32_t>(info[3].As<Napi::Number>().Uint32Value());
  auto offset = static_cast<uint64_t>(info[4].As<Napi::Number>().Int64Value());
  auto length = static_cast<uint64_t>(info[5].As<Napi::Number>().Int64Value());
  uint8_t* bytes = nullptr;
  if (info[6].IsTypedArray()) {
    Napi::TypedArray array = info[6].As<Napi::TypedArray>();
    if (!check(array.ByteLength() >= length, env, "buffer is shorter than the I/O")) return env.Undefined();
    bytes = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  } else if (!check(op != static_cast<int>(IoType::Read) && op != static_cast<int>(IoType::Write), env,
                    "read and write need a buffer")) {
    return env.Undefined();
  }
  int rc = engine->submit_io(bdev.get(), static_cast<IoType>(op), slot, offset, length, bytes);
  return Napi::Number::New(env, rc);
}

Napi::Value AllocBuffer(const Napi::CallbackInfo& info) {
  JsEngine* engine = running_engine(info);
  if (!engine || !check(info[1].IsNumber(), info.Env(), "size must be a number")) return info.Env().Undefined();
  return engine->alloc_buffer(info.Env(), static_cast<size_t>(info[1].As<Napi::Number>().Int64Value()));
}

// constants: the numbers TypeScript uses to talk to the engine, from their C++ definitions
// (test/engine/constants.test.ts checks that src/ agrees).
Napi::Object constants_value(Napi::Env env) {
  auto num = [&](int64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Object o = Napi::Object::New(env);
  Napi::Object io = Napi::Object::New(env);
  io.Set("read", num(static_cast<int>(IoType::Read)));
  io.Set("write", num(static_cast<int>(IoType::Write)));
  io.Set("flush", num(static_cast<int>(IoType::Flush)));
  io.Set("unmap", num(static_cast<int>(IoType::Unmap)));
  io.Set("writeZeroes", num(static_cast<int>(IoType::WriteZeroes)));
  io.Set("reset", num(static_cast<int>(IoType::Reset)));
  o.Set("ioTypes", io);
  Napi::Object bench = Napi::Object::New(env);
  bench.Set("randread", num(static_cast<int>(BenchWorkload::RandRead)));
  bench.Set("randwrite", num(static_cast<int>(BenchWorkload::RandWrite)));
  bench.Set("read", num(static_cast<int>(BenchWorkload::Read)));
  bench.Set("write", num(static_cast<int>(BenchWorkload::Write)));
  bench.Set("randrw", num(static_cast<int>(BenchWorkload::RandRw)));
  o.Set("benchWorkloads", bench);
  o.Set("maxIoInFlight", num(JsEngine::kMaxIoInFlight));
  o.Set("EAGAIN", num(-EAGAIN));
  Napi::Object modules = Napi::Object::New(env);
  for (const BdevModule& m : bdev_modules()) {
    Napi::Object values = Napi::Object::New(env);
    if (m.constants)
      for (const auto& [name, value] : *m.constants) values.Set(name, num(value));
    modules.Set(m.scheme, values);
  }
  o.Set("modules", modules);
  return o;
}

// bdevControl(bdev, command, { name: integer, ... }): a module's own command (the error
// module's "inject" and "clear"), through the bdev core's generic entry point.
Napi::Value BdevControl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto bdev = unwrap_bdev(info[0]);
  if (!bdev || !check(info[1].IsString() && info[2].IsObject(), env, "bdevControl(bdev, command, args)"))
    return env.Undefined();
  if (bdev->closed) {
    make_error(env, Status::error(-ENODEV, "bdev is destroyed")).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  BdevControlArgs args;
  Napi::Object o = info[2].As<Napi::Object>();
  Napi::Array names = o.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); ++i) {
    std::string name = names.Get(i).As<Napi::String>();
    Napi::Value v = o.Get(name);
    if (!check(v.IsNumber(), env, "control arguments must be numbers")) return env.Undefined();
    args[name] = v.As<Napi::Number>().Int64Value();
  }
  Status st = bdev_module_control(*bdev->bdev, info[1].As<Napi::String>().Utf8Value(), args);
  if (!st.is_ok()) make_error(env, st).ThrowAsJavaScriptException();
  return env.Undefined();
}

// engineBench(engine, { bdev, workload, rwmixread, blockSize, queueDepth, seconds, reactors, verify })
Napi::Value EngineBench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsEngine* engine = running_engine(info);
  if (!engine || !check(info[1].IsObject(), env, "bench options must be an object")) return env.Undefined();
  Napi::Object o = info[1].As<Napi::Object>();
  BenchOptions options;
  options.bdev = o.Get("bdev").As<Napi::String>().Utf8Value();
  options.workload = static_cast<BenchWorkload>(o.Get("workload").As<Napi::Number>().Uint32Value());
  options.rwmixread = o.Get("rwmixread").As<Napi::Number>().Uint32Value();
  options.block_size = o.Get("blockSize").As<Napi::Number>().Uint32Value();
  options.queue_depth = o.Get("queueDepth").As<Napi::Number>().Uint32Value();
  options.duration_ns = static_cast<uint64_t>(o.Get("seconds").As<Napi::Number>().DoubleValue() * 1e9);
  options.verify = o.Get("verify").As<Napi::Boolean>().Value();
  options.reactors.clear();
  Napi::Array reactors = o.Get("reactors").As<Napi::Array>();
  for (uint32_t i = 0; i < reactors.Length(); ++i)
    options.reactors.push_back(reactors.Get(i).As<Napi::Number>().Uint32Value());
  return engine->bench(env, std::move(options));
}

Napi::Value BatchCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!check(info[0].IsNumber(), env, "capacity must be a number")) return env.Undefined();
  uint32_t capacity = info[0].As<Napi::Number>().Uint32Value();
  if (!check(capacity > 0 && capacity <= 65536, env, "capacity must be 1..65536")) return env.Undefined();
  return wrap_batch(env, std::make_shared<JsBatch>(capacity));
}

// batchSubmit(engine, bdev, batch, slot, count, ops: Uint8Array, offsets: Float64Array,
//             lengths: Float64Array, buffers: (Uint8Array|null)[], statuses: Int32Array) -> 0 | -errno
Napi::Value BatchSubmit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsEngine* engine = unwrap_engine(info[0]);
  if (!engine) return env.Undefined();
  auto bdev = unwrap_bdev(info[1]);
  JsBatch* batch = bdev ? unwrap_batch(info[2]) : nullptr;
  if (!batch) return env.Undefined();
  uint32_t slot = info[3].As<Napi::Number>().Uint32Value();
  uint32_t count = info[4].As<Napi::Number>().Uint32Value();
  auto ops = info[5].As<Napi::Uint8Array>();
  auto offsets = info[6].As<Napi::Float64Array>();
  auto lengths = info[7].As<Napi::Float64Array>();
  auto buffers = info[8].As<Napi::Array>();
  auto statuses = info[9].As<Napi::Int32Array>();
  if (!check(count <= batch->requests.size() && ops.ElementLength() >= count && offsets.ElementLength() >= count &&
                 lengths.ElementLength() >= count && buffers.Length() >= count && statuses.ElementLength() >= count,
             env, "batch arrays are shorter than its count"))
    return env.Undefined();
  std::vector<uint8_t*> bytes(count, nullptr);
  for (uint32_t i = 0; i < count; ++i) {
    IoRequest& req = batch->requests[i];
    uint8_t op = ops[i];
    if (!check(op < kIoTypeCount, env, "bad I/O type in batch")) return env.Undefined();
    req.type = static_cast<IoType>(op);
    req.offset = static_cast<uint64_t>(offsets[i]);
    req.length = static_cast<uint64_t>(lengths[i]);
    Napi::Value b = buffers[i];
    if (b.IsTypedArray()) {
      Napi::TypedArray array = b.As<Napi::TypedArray>();
      if (!check(array.ByteLength() >= req.length, env, "a batch buffer is shorter than its I/O")) return env.Undefined();
      bytes[i] = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
    } else if (!check(req.type != IoType::Read && req.type != IoType::Write, env, "read and write need a buffer")) {
      return env.Undefined();
    }
  }
  batch->count = count;
  batch->statuses = statuses.Data();
  return Napi::Number::New(env, engine->submit_batch(bdev.get(), batch, slot, bytes));
}

void CleanupAtExit(void* arg) {
  auto* st = static_cast<AddonState*>(arg);
  if (st->active) st->active->stop_for_exit();
}

Napi::Object InitExports(Napi::Env env, Napi::Object exports) {
  auto* st = new AddonState();
  env.SetInstanceData<AddonState>(st);
  // Runs before the instance data is freed: an engine the script never stopped is stopped
  // here, without calling into JavaScript.
  napi_add_env_cleanup_hook(env, CleanupAtExit, st);
  exports.Set("engineStart", Napi::Function::New(env, EngineStart));
  exports.Set("engineInfo", Napi::Function::New(env, EngineInfo));
  exports.Set("engineStop", Napi::Function::New(env, EngineStop));
  exports.Set("engineFinalize", Napi::Function::New(env, EngineFinalize));
  exports.Set("bdevCreate", Napi::Function::New(env, BdevCreate));
  exports.Set("bdevDestroy", Napi::Function::New(env, BdevDestroy));
  exports.Set("bdevStats", Napi::Function::New(env, BdevStats));
  exports.Set("bdevResetStats", Napi::Function::New(env, BdevResetStats));
  exports.Set("bdevIo", Napi::Function::New(env, BdevIo));
  exports.Set("allocBuffer", Napi::Function::New(env, AllocBuffer));
  exports.Set("bdevControl", Napi::Function::New(env, BdevControl));
  exports.Set("constants", constants_value(env));
  exports.Set("engineBench", Napi::Function::New(env, EngineBench));
  exports.Set("batchCreate", Napi::Function::New(env, BatchCreate));
  exports.Set("batchSubmit", Napi::Function::New(env, BatchSubmit));
  register_pool_functions(env, exports);
  register_nvmf_functions(env, exports);
  register_nexus_functions(env, exports);
  return exports;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) { return InitExports(env, exports); }

}  // namespace nds::binding

static Napi::Object InitNodestor(Napi::Env env, Napi::Object exports) { return nds::binding::Init(env, exports); }
NODE_API_MODULE(nodestor, InitNodestor)
