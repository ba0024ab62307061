// The addon's entry: engine start and stop (one engine per process), the bench, the
// exported constants, and the registration of each area's functions (js_bdev.cc,
// js_pools.cc, js_nvmf.cc, js_nexus.cc). Arguments were validated in TypeScript; here
// they are checked again only so that a wrong call throws instead of crashing.
#include <napi.h>

#include "bdev/bdev_module.h"
#include "js_bdev.h"
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
  bench.Set("rw", num(static_cast<int>(BenchWorkload::Rw)));
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

// engineBench(engine, { bdev, workload, rwmixread, blockSize, queueDepth, seconds, reactors, verify })
Napi::Value EngineBench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsEngine* engine = running_engine(info);
  if (!engine || !check(info[1].IsObject(), env, "bench options must be an object")) return env.Undefined();
  Napi::Object o = info[1].As<Napi::Object>();
  BenchOptions options;
  options.bdev = o.Get("bdev").As<Napi::String>().Utf8Value();
  uint32_t workload = o.Get("workload").As<Napi::Number>().Uint32Value();
  if (!check(workload <= static_cast<uint32_t>(BenchWorkload::Rw), env, "unknown bench workload")) return env.Undefined();
  options.workload = static_cast<BenchWorkload>(workload);
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
  exports.Set("constants", constants_value(env));
  exports.Set("engineBench", Napi::Function::New(env, EngineBench));
  register_bdev_functions(env, exports);
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
