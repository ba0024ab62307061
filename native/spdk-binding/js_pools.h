// N-API functions for pools and lvols (js_pools.cc).
#pragma once
#include <napi.h>

namespace nds::binding {

void register_pool_functions(Napi::Env env, Napi::Object exports);

}  // namespace nds::binding
