// N-API functions for bdevs: create and destroy, I/O (one at a time and in batches),
// DMA buffers, statistics, health, and a module's own controls. Handles are JsBdev
// externals; a closed one fails with ENODEV (TypeScript refuses first, with DESTROYED).
#include "js_bdev.h"

#include "bdev/bdev_module.h"
#include "js_engine.h"
#include "js_values.h"

namespace nds::binding {
namespace {

// The native bdev may already be freed once closed: nothing here reads it.
bool open_or_throw(Napi::Env env, const JsBdev& bdev) {
  if (!bdev.closed) return true;
  make_error(env, Status::error(-ENODEV, "bdev is destroyed")).ThrowAsJavaScriptException();
  return false;
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
  if (!open_or_throw(info.Env(), *bdev)) return info.Env().Undefined();
  return bdev_stats_value(info.Env(), bdev->bdev->stats());
}

// bdevCounts([bdev, ...]) -> Float64Array: for each bdev and I/O type (read, write,
// flush, unmap, write zeroes, reset), ops, bytes and errors. One call for a scrape of
// every bdev; a closed bdev reads as zeros.
Napi::Value BdevCounts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!check(info[0].IsArray(), env, "bdevs must be an array")) return env.Undefined();
  Napi::Array bdevs = info[0].As<Napi::Array>();
  constexpr uint32_t kPerBdev = kIoTypeCount * 3;
  Napi::Float64Array out = Napi::Float64Array::New(env, static_cast<size_t>(bdevs.Length()) * kPerBdev);
  for (uint32_t i = 0; i < bdevs.Length(); ++i) {
    auto bdev = unwrap_bdev(bdevs.Get(i));
    if (!bdev) return env.Undefined();
    if (bdev->closed) continue;
    IoCountsByType counts = bdev->bdev->counts();
    for (int t = 0; t < kIoTypeCount; ++t) {
      out[i * kPerBdev + t * 3] = static_cast<double>(counts[t].ops);
      out[i * kPerBdev + t * 3 + 1] = static_cast<double>(counts[t].bytes);
      out[i * kPerBdev + t * 3 + 2] = static_cast<double>(counts[t].errors);
    }
  }
  return out;
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

// bdevControl(bdev, command, { name: integer, ... }): a module's own command (the error
// module's "inject" and "clear"), through the bdev core's generic entry point.
Napi::Value BdevControl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto bdev = unwrap_bdev(info[0]);
  if (!bdev || !check(info[1].IsString() && info[2].IsObject(), env, "bdevControl(bdev, command, args)"))
    return env.Undefined();
  if (!open_or_throw(env, *bdev)) return env.Undefined();
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

// bdevHealth(bdev) -> { state: 'online' | 'reconnecting' | 'gone', reason: string | null }
Napi::Value BdevHealth(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto bdev = unwrap_bdev(info[0]);
  if (!bdev || !open_or_throw(env, *bdev)) return env.Undefined();
  nds::BdevHealth health = bdev->bdev->health();
  Napi::Object out = Napi::Object::New(env);
  out.Set("state", nds::BdevHealth::name(health.state));
  out.Set("reason", health.reason.empty() ? env.Null() : Napi::String::New(env, health.reason));
  return out;
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

// bdevDescribeAll(engine) -> Promise<{ name, claimedBy, belongsTo, ioTypes }[]>: what only the
// app thread may read (claims change there), for every bdev in one hop. ioTypes has bit
// (1 << IoType) set for each type the bdev's module serves.
Napi::Value BdevDescribeAll(const Napi::CallbackInfo& info) {
  JsEngine* engine = running_engine(info);
  if (!engine) return info.Env().Undefined();
  return engine->control(info.Env(), [engine](ControlRequest* r) {
    struct Row {
      std::string name, claimed_by, belongs_to;
      uint32_t io_types = 0;
    };
    auto rows = std::make_shared<std::vector<Row>>();
    for (Bdev* bdev : engine->engine().bdevs().all()) {
      Row row{bdev->name(), bdev->claimed_by(), bdev->belongs_to()};
      for (int t = 0; t < kIoTypeCount; ++t)
        if (bdev->io_type_supported(static_cast<IoType>(t))) row.io_types |= 1u << t;
      rows->push_back(std::move(row));
    }
    engine->finish(r, Status::ok(), [rows](Napi::Env env) {
      Napi::Array out = Napi::Array::New(env, rows->size());
      for (size_t i = 0; i < rows->size(); ++i) {
        const Row& row = (*rows)[i];
        Napi::Object o = Napi::Object::New(env);
        o.Set("name", row.name);
        o.Set("claimedBy", row.claimed_by.empty() ? env.Null() : Napi::String::New(env, row.claimed_by));
        o.Set("belongsTo", row.belongs_to.empty() ? env.Null() : Napi::String::New(env, row.belongs_to));
        o.Set("ioTypes", row.io_types);
        out.Set(i, o);
      }
      return out;
    });
  });
}

}  // namespace

void register_bdev_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("bdevCreate", Napi::Function::New(env, BdevCreate));
  exports.Set("bdevDestroy", Napi::Function::New(env, BdevDestroy));
  exports.Set("bdevStats", Napi::Function::New(env, BdevStats));
  exports.Set("bdevCounts", Napi::Function::New(env, BdevCounts));
  exports.Set("bdevResetStats", Napi::Function::New(env, BdevResetStats));
  exports.Set("bdevHealth", Napi::Function::New(env, BdevHealth));
  exports.Set("bdevDescribeAll", Napi::Function::New(env, BdevDescribeAll));
  exports.Set("bdevControl", Napi::Function::New(env, BdevControl));
  exports.Set("bdevIo", Napi::Function::New(env, BdevIo));
  exports.Set("allocBuffer", Napi::Function::New(env, AllocBuffer));
  exports.Set("batchCreate", Napi::Function::New(env, BatchCreate));
  exports.Set("batchSubmit", Napi::Function::New(env, BatchSubmit));
}

}  // namespace nds::binding
