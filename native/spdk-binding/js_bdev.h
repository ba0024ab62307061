// N-API functions for bdevs, their I/O and buffers (js_bdev.cc).
#pragma once
#include <napi.h>

namespace nds::binding {

void register_bdev_functions(Napi::Env env, Napi::Object exports);

}  // namespace nds::binding
