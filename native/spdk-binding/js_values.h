// Conversions between engine types and JavaScript values: errors, engine info, bdev
// properties and statistics, and the type-tagged externals that carry native handles.
#pragma once
#include <napi.h>

#include <memory>
#include <string>

#include "bench/bdevperf.h"
#include "engine.h"

namespace nds::binding {

struct JsBdev;
class JsEngine;

// An Error whose `errno` property is the negative errno and whose message names the
// resource; the TypeScript layer maps it to a NodestorError code.
Napi::Error make_error(Napi::Env env, const Status& status);

// Throws a TypeError with `message` unless ok (a call TypeScript should never make).
inline bool check(bool ok, Napi::Env env, const char* message) {
  if (!ok) Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return ok;
}

Napi::Value engine_info_value(Napi::Env env, Engine& engine);

struct BdevProperties {
  std::string name;
  std::string uuid;
  std::string module;
  uint32_t block_size;
  uint64_t num_blocks;
};
BdevProperties bdev_properties(const Bdev& bdev);
// { handle, name, uuid, module, blockSize, numBlocks }
Napi::Value bdev_created_value(Napi::Env env, std::shared_ptr<JsBdev> handle, const BdevProperties& props);
Napi::Value bdev_stats_value(Napi::Env env, const IoStatSnapshot& stats);
Napi::Value bench_result_value(Napi::Env env, const BenchResult& result);

Napi::External<std::shared_ptr<JsEngine>> wrap_engine(Napi::Env env, std::shared_ptr<JsEngine> engine);
// Throws a TypeError (returns nullptr) when `value` is not a handle of the right kind.
JsEngine* unwrap_engine(const Napi::Value& value);
// The engine handle in info[0], if it is one and still running (else throws, returns null).
JsEngine* running_engine(const Napi::CallbackInfo& info);
std::shared_ptr<JsBdev> unwrap_bdev(const Napi::Value& value);
struct JsBatch;
Napi::Value wrap_batch(Napi::Env env, std::shared_ptr<JsBatch> batch);
JsBatch* unwrap_batch(const Napi::Value& value);

}  // namespace nds::binding
