#include "js_values.h"

#include "js_engine.h"

namespace nds::binding {

// Random tags: a handle of one kind can never be passed off as another.
static const napi_type_tag kEngineTag = {0x6e6f646573746f72ull, 0x656e67696e650001ull};
static const napi_type_tag kBdevTag = {0x6e6f646573746f72ull, 0x6264657600000002ull};
static const napi_type_tag kBatchTag = {0x6e6f646573746f72ull, 0x6261746368000003ull};

Napi::Error make_error(Napi::Env env, const Status& status) {
  Napi::Error err = Napi::Error::New(env, status.message.empty() ? std::string("operation failed") : status.message);
  err.Set("errno", Napi::Number::New(env, status.rc));
  return err;
}

static Napi::Number num(Napi::Env env, uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); }

Napi::Value engine_info_value(Napi::Env env, Engine& engine) {
  Napi::Object info = Napi::Object::New(env);
  info.Set("version", NDS_VERSION);
  Napi::Array reactors = Napi::Array::New(env, engine.reactor_count());
  for (size_t i = 0; i < engine.reactor_count(); ++i) {
    const Reactor& r = engine.reactor(i);
    ReactorStats s = r.stats();
    Napi::Object o = Napi::Object::New(env);
    o.Set("core", r.core());
    o.Set("idle", r.idle_mode() == IdleMode::Poll ? "poll" : "adaptive");
    o.Set("busyNs", num(env, s.busy_ns));
    o.Set("idleNs", num(env, s.idle_ns));
    o.Set("sleeps", num(env, s.sleeps));
    o.Set("threads", num(env, s.threads));
    reactors.Set(i, o);
  }
  info.Set("reactors", reactors);
  DmaStats m = engine.dma().stats();
  Napi::Object memory = Napi::Object::New(env);
  memory.Set("hugepages", m.hugepages);
  memory.Set("reservedBytes", num(env, m.reserved_bytes));
  memory.Set("usedBytes", num(env, m.used_bytes));
  memory.Set("freeBytes", num(env, m.free_bytes));
  info.Set("memory", memory);
  return info;
}

BdevProperties bdev_properties(const Bdev& bdev) {
  return BdevProperties{bdev.name(), bdev.uuid().to_string(), bdev.module_name(), bdev.block_size(), bdev.num_blocks()};
}

Napi::Value bdev_created_value(Napi::Env env, std::shared_ptr<JsBdev> handle, const BdevProperties& props) {
  auto ext = Napi::External<std::shared_ptr<JsBdev>>::New(
      env, new std::shared_ptr<JsBdev>(std::move(handle)),
      [](Napi::Env, std::shared_ptr<JsBdev>* held) { delete held; });
  ext.TypeTag(&kBdevTag);
  Napi::Object o = Napi::Object::New(env);
  o.Set("handle", ext);
  o.Set("name", props.name);
  o.Set("uuid", props.uuid);
  o.Set("module", props.module);
  o.Set("blockSize", props.block_size);
  o.Set("numBlocks", num(env, props.num_blocks));
  return o;
}

namespace {
constexpr int kPromFirstExponent = 10;
constexpr int kPromBucketCount = 21;
}  // namespace

Napi::Value bdev_stats_value(Napi::Env env, const IoStatSnapshot& stats) {
  Napi::Object out = Napi::Object::New(env);
  for (int t = 0; t < kIoTypeCount; ++t) {
    auto type = static_cast<IoType>(t);
    const IoTypeCounters& c = stats.types[t];
    Napi::Object o = Napi::Object::New(env);
    o.Set("ops", num(env, c.ops));
    o.Set("bytes", num(env, c.bytes));
    o.Set("errors", num(env, c.errors));
    o.Set("latencySumNs", num(env, c.latency_sum_ns));
    o.Set("p50Ns", num(env, stats.percentile_ns(type, 0.50)));
    o.Set("p99Ns", num(env, stats.percentile_ns(type, 0.99)));
    o.Set("p999Ns", num(env, stats.percentile_ns(type, 0.999)));
    o.Set("maxNs", num(env, stats.max_ns(type)));
    // Cumulative counts at 2^10 .. 2^30 ns (about 1 us to 1 s): engine buckets end on
    // powers of two, so each count is exact, for Prometheus histograms.
    Napi::Array le = Napi::Array::New(env, kPromBucketCount);
    uint64_t seen = 0;
    int bucket = 0;
    for (int i = 0; i < kPromBucketCount; ++i) {
      uint64_t bound = 1ull << (kPromFirstExponent + i);
      while (bucket < kLatencyBuckets && latency_bucket_upper_ns(bucket) < bound) seen += c.histogram[bucket++];
      le.Set(i, num(env, seen));
    }
    o.Set("cumulativeByPow2Ns", le);
    out.Set(io_type_name(type), o);
  }
  return out;
}

Napi::Value bench_result_value(Napi::Env env, const BenchResult& result) {
  // Per job as measured; the TypeScript layer adds totals and percentiles' units.
  IoStatSnapshot all;
  Napi::Array jobs = Napi::Array::New(env, result.jobs.size());
  for (size_t i = 0; i < result.jobs.size(); ++i) {
    const BenchJobResult& j = result.jobs[i];
    all.add(j.latency);
    Napi::Object o = Napi::Object::New(env);
    o.Set("core", j.core);
    o.Set("ios", num(env, j.ios));
    o.Set("bytes", num(env, j.bytes));
    o.Set("errors", num(env, j.errors));
    o.Set("mismatches", num(env, j.mismatches));
    o.Set("elapsedNs", num(env, j.elapsed_ns));
    o.Set("latencySumNs", num(env, j.latency_sum_ns));
    jobs.Set(i, o);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("jobs", jobs);
  out.Set("p50Ns", num(env, all.percentile_ns(IoType::Read, 0.50)));
  out.Set("p99Ns", num(env, all.percentile_ns(IoType::Read, 0.99)));
  out.Set("p999Ns", num(env, all.percentile_ns(IoType::Read, 0.999)));
  out.Set("maxNs", num(env, all.max_ns(IoType::Read)));
  return out;
}

Napi::Value wrap_batch(Napi::Env env, std::shared_ptr<JsBatch> batch) {
  auto ext = Napi::External<std::shared_ptr<JsBatch>>::New(
      env, new std::shared_ptr<JsBatch>(std::move(batch)), [](Napi::Env, std::shared_ptr<JsBatch>* held) { delete held; });
  ext.TypeTag(&kBatchTag);
  return ext;
}

Napi::External<std::shared_ptr<JsEngine>> wrap_engine(Napi::Env env, std::shared_ptr<JsEngine> engine) {
  auto ext = Napi::External<std::shared_ptr<JsEngine>>::New(
      env, new std::shared_ptr<JsEngine>(std::move(engine)),
      [](Napi::Env, std::shared_ptr<JsEngine>* held) { delete held; });
  ext.TypeTag(&kEngineTag);
  return ext;
}

template <typename T>
static T* unwrap(const Napi::Value& value, const napi_type_tag& tag, const char* what) {
  if (!value.IsExternal() || !value.As<Napi::Object>().CheckTypeTag(&tag)) {
    Napi::TypeError::New(value.Env(), std::string("expected a native ") + what + " handle").ThrowAsJavaScriptException();
    return nullptr;
  }
  return value.As<Napi::External<T>>().Data();
}

JsEngine* unwrap_engine(const Napi::Value& value) {
  auto* held = unwrap<std::shared_ptr<JsEngine>>(value, kEngineTag, "engine");
  return held ? held->get() : nullptr;
}

JsEngine* running_engine(const Napi::CallbackInfo& info) {
  JsEngine* engine = unwrap_engine(info[0]);
  if (engine && !engine->running()) {
    make_error(info.Env(), Status::error(-ESHUTDOWN, "the engine is stopped")).ThrowAsJavaScriptException();
    return nullptr;
  }
  return engine;
}

JsBatch* unwrap_batch(const Napi::Value& value) {
  auto* held = unwrap<std::shared_ptr<JsBatch>>(value, kBatchTag, "batch");
  return held ? held->get() : nullptr;
}

std::shared_ptr<JsBdev> unwrap_bdev(const Napi::Value& value) {
  auto* held = unwrap<std::shared_ptr<JsBdev>>(value, kBdevTag, "bdev");
  return held ? *held : nullptr;
}

}  // namespace nds::binding
