// N-API functions for the NVMe-oF target and discovery (js_nvmf.cc).
#pragma once
#include <napi.h>

namespace nds::binding {

void register_nvmf_functions(Napi::Env env, Napi::Object exports);

}  // namespace nds::binding
