// N-API glue for the NVMe-oF target (subsystems, namespaces, listeners, hosts, ANA) and
// for discovery through our host. Subsystems are named by NQN: every call finds them again
// on the app thread (ENOENT once gone). Arguments arrive validated by src/nvmf-target/.
#include "js_nvmf.h"

#include <openssl/crypto.h>

#include "nvmf/auth/key_format.h"
#include "nvmf/tls/tls_psk.h"
#include "nvmf/host/host_controller.h"
#include "nvmf/host/nvmf_bdev.h"

#include "js_engine.h"
#include "js_values.h"

namespace nds::binding {
namespace {

using nvmf::AnaState;
using nvmf::ListenerAddress;

std::string str(const Napi::Value& v) { return v.As<Napi::String>(); }
uint16_t port_of(const Napi::Value& v) { return static_cast<uint16_t>(v.As<Napi::Number>().Uint32Value()); }

bool uuid_bytes(const Napi::Value& v, std::array<uint8_t, 16>* out) {
  if (!v.IsString()) return false;
  auto parsed = Uuid::parse(v.As<Napi::String>().Utf8Value());
  if (!parsed) return false;
  std::memcpy(out->data(), parsed->bytes.data(), 16);
  return true;
}

// { cntlid, hostNqn, address, port, ioQueues: qid[] }
Napi::Object controller_value(Napi::Env env, const nvmf::SubsystemInfo::ControllerSummary& c) {
  Napi::Object v = Napi::Object::New(env);
  v.Set("cntlid", c.cntlid);
  v.Set("hostNqn", c.hostnqn);
  v.Set("address", c.listener.address);
  v.Set("port", c.listener.port);
  Napi::Array qids = Napi::Array::New(env, c.io_queues.size());
  for (size_t q = 0; q < c.io_queues.size(); ++q) qids.Set(q, c.io_queues[q]);
  v.Set("ioQueues", qids);
  return v;
}

// A key that does not parse rejects the call's promise with its code, as a failed op would.
Napi::Value rejected(Napi::Env env, const Status& st) {
  Napi::Error e = Napi::Error::New(env, st.message);
  e.Set("errno", Napi::Number::New(env, st.rc));
  auto deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(e.Value());
  return deferred.Promise();
}

Napi::Value listener_value(Napi::Env env, const nvmf::SubsystemListener& l) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("address", l.address.address);
  o.Set("port", l.address.port);
  o.Set("anaState", nvmf::ana_state_name(l.ana));
  o.Set("secureChannel", Napi::Boolean::New(env, l.secure_channel));
  return o;
}

Napi::Value subsystem_value(Napi::Env env, const nvmf::SubsystemInfo& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("nqn", s.options.nqn);
  o.Set("serial", s.options.serial);
  o.Set("model", s.options.model);
  o.Set("allowAnyHost", s.options.allow_any_host);
  o.Set("maxNamespaces", s.options.max_namespaces);
  Napi::Array hosts = Napi::Array::New(env, s.options.hosts.size());
  for (size_t i = 0; i < s.options.hosts.size(); ++i) hosts.Set(i, s.options.hosts[i]);
  o.Set("hosts", hosts);
  Napi::Array listeners = Napi::Array::New(env, s.listeners.size());
  for (size_t i = 0; i < s.listeners.size(); ++i) listeners.Set(i, listener_value(env, s.listeners[i]));
  o.Set("listeners", listeners);
  Napi::Array namespaces = Napi::Array::New(env, s.namespaces.size());
  for (size_t i = 0; i < s.namespaces.size(); ++i) {
    Napi::Object n = Napi::Object::New(env);
    n.Set("nsid", s.namespaces[i].first);
    n.Set("bdevName", s.namespaces[i].second);
    n.Set("uuid", Uuid{s.namespace_ids[i].first}.to_string());
    n.Set("nguid", Uuid{s.namespace_ids[i].second}.to_string());
    namespaces.Set(i, n);
  }
  o.Set("namespaces", namespaces);
  o.Set("controllers", static_cast<double>(s.controllers));
  Napi::Array controllers = Napi::Array::New(env, s.controller_list.size());
  for (size_t i = 0; i < s.controller_list.size(); ++i) controllers.Set(i, controller_value(env, s.controller_list[i]));
  o.Set("controllerList", controllers);
  return o;
}

// A call that finishes synchronously on the app thread with a Status.
using SimpleOp = std::function<Status(nvmf::TargetService&)>;
// The engine's keyring, for key values that name keys (nullptr when the engine is not running).
const nvmf::auth::Keyring* keyring_of(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  return js ? &js->engine().keyring() : nullptr;
}

Napi::Value simple(const Napi::CallbackInfo& info, SimpleOp op) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  return js->control(info.Env(), [js, op = std::move(op)](ControlRequest* r) { js->finish(r, op(js->engine().nvmf())); });
}

// nvmfCreateSubsystem(engine, nqn, serial, model, allowAnyHost, hosts[], maxNamespaces)
Napi::Value CreateSubsystem(const Napi::CallbackInfo& info) {
  nvmf::SubsystemOptions o;
  o.nqn = str(info[1]);
  o.serial = str(info[2]);
  o.model = str(info[3]);
  o.allow_any_host = info[4].As<Napi::Boolean>();
  Napi::Array hosts = info[5].As<Napi::Array>();
  for (uint32_t i = 0; i < hosts.Length(); ++i) o.hosts.push_back(str(hosts.Get(i)));
  o.max_namespaces = info[6].As<Napi::Number>().Uint32Value();
  return simple(info, [o](nvmf::TargetService& svc) { return svc.create_subsystem(o); });
}

// nvmfDestroySubsystem(engine, nqn)
Napi::Value DestroySubsystem(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  std::string nqn = str(info[1]);
  return js->control(info.Env(), [js, nqn](ControlRequest* r) {
    js->engine().nvmf().destroy_subsystem(nqn, [js, r](Status st) { js->finish(r, st); });
  });
}

// nvmfAddNamespace(engine, nqn, bdevName, nsid, uuid|null, nguid|null) -> nsid
Napi::Value AddNamespace(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  std::string nqn = str(info[1]);
  nvmf::NamespaceOptions o;
  o.bdev_name = str(info[2]);
  o.nsid = info[3].As<Napi::Number>().Uint32Value();
  o.has_uuid = uuid_bytes(info[4], &o.uuid);
  o.has_nguid = uuid_bytes(info[5], &o.nguid);
  return js->control(info.Env(), [js, nqn, o](ControlRequest* r) {
    uint32_t nsid = 0;
    Status st = js->engine().nvmf().add_namespace(nqn, o, &nsid);
    js->finish(r, st, [nsid](Napi::Env e) { return Napi::Number::New(e, nsid); });
  });
}

// nvmfSetAllowAnyHost(engine, nqn, allow)
Napi::Value SetAllowAnyHost(const Napi::CallbackInfo& info) {
  std::string nqn = str(info[1]);
  bool allow = info[2].As<Napi::Boolean>();
  return simple(info, [nqn, allow](nvmf::TargetService& svc) { return svc.set_allow_any_host(nqn, allow); });
}

// nvmfRemoveNamespace(engine, nqn, nsid)
Napi::Value RemoveNamespace(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  std::string nqn = str(info[1]);
  uint32_t nsid = info[2].As<Napi::Number>().Uint32Value();
  return js->control(info.Env(), [js, nqn, nsid](ControlRequest* r) {
    js->engine().nvmf().remove_namespace(nqn, nsid, [js, r](Status st) { js->finish(r, st); });
  });
}

// nvmfAddListener(engine, nqn, address, port, secureChannel) -> the bound port
Napi::Value AddListener(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  std::string nqn = str(info[1]);
  ListenerAddress a{str(info[2]), port_of(info[3])};
  const bool secure_channel = info.Length() > 4 && info[4].IsBoolean() && info[4].As<Napi::Boolean>().Value();
  return js->control(info.Env(), [js, nqn, a, secure_channel](ControlRequest* r) mutable {
    Status st = js->engine().nvmf().add_listener(nqn, &a, secure_channel);
    uint16_t port = a.port;
    js->finish(r, st, [port](Napi::Env e) { return Napi::Number::New(e, port); });
  });
}

// nvmfRemoveListener(engine, nqn, address, port)
Napi::Value RemoveListener(const Napi::CallbackInfo& info) {
  std::string nqn = str(info[1]);
  ListenerAddress a{str(info[2]), port_of(info[3])};
  return simple(info, [nqn, a](nvmf::TargetService& svc) { return svc.remove_listener(nqn, a); });
}

// nvmfAddHost(engine, nqn, host) / nvmfRemoveHost(engine, nqn, host)
Napi::Value AddHost(const Napi::CallbackInfo& info) {
  std::string nqn = str(info[1]), host = str(info[2]);
  return simple(info, [nqn, host](nvmf::TargetService& svc) { return svc.add_host(nqn, host); });
}
Napi::Value RemoveHost(const Napi::CallbackInfo& info) {
  std::string nqn = str(info[1]), host = str(info[2]);
  return simple(info, [nqn, host](nvmf::TargetService& svc) { return svc.remove_host(nqn, host); });
}

// nvmfSetHostKeys(engine, nqn, host, dhchapKey | null, dhchapCtrlrKey | null): null and
// null take the host's keys away. The key texts are parsed on the app thread and their
// copies here wiped; the keys then live only in wiped-on-release buffers.
Napi::Value SetHostKeys(const Napi::CallbackInfo& info) {
  std::string nqn = str(info[1]), host = str(info[2]);
  std::string host_key = info[3].IsString() ? str(info[3]) : std::string();
  std::string ctrl_key = info[4].IsString() ? str(info[4]) : std::string();
  const nvmf::auth::Keyring* ring = keyring_of(info);
  if (!ring) return info.Env().Undefined();
  return simple(info, [nqn, host, host_key, ctrl_key, ring](nvmf::TargetService& svc) mutable {
    const auto wipe = [&] {
      OPENSSL_cleanse(host_key.data(), host_key.size());
      OPENSSL_cleanse(ctrl_key.data(), ctrl_key.size());
    };
    std::shared_ptr<nvmf::auth::DhchapKeys> keys;
    if (!host_key.empty()) {
      keys = std::make_shared<nvmf::auth::DhchapKeys>();
      Status st = nvmf::auth::resolve_dhchap_secret(ring, host_key, &keys->host);
      if (st.is_ok() && !ctrl_key.empty()) {
        keys->has_ctrl = true;
        st = nvmf::auth::resolve_dhchap_secret(ring, ctrl_key, &keys->ctrl);
        if (!st.is_ok()) st.message = "dhchapCtrlrKey: " + st.message;
      } else if (!st.is_ok()) {
        st.message = "dhchapKey: " + st.message;
      }
      if (!st.is_ok()) {
        wipe();
        return st;
      }
    } else if (!ctrl_key.empty()) {
      wipe();
      return Status::error(-EINVAL, "dhchapCtrlrKey needs dhchapKey");
    }
    wipe();
    return svc.set_host_keys(nqn, host, std::move(keys));
  });
}

// nvmfSetHostPsk(engine, nqn, host, psk | null): the configured TLS PSK in its interchange
// form (NVMeTLSkey-1:xx:...:), the path of a 0600 file holding it, or a key's name in the
// engine's keyring; null takes it away.
Napi::Value SetHostPsk(const Napi::CallbackInfo& info) {
  std::string nqn = str(info[1]), host = str(info[2]);
  std::string text = info[3].IsString() ? str(info[3]) : std::string();
  const nvmf::auth::Keyring* ring = keyring_of(info);
  if (!ring) return info.Env().Undefined();
  return simple(info, [nqn, host, text, ring](nvmf::TargetService& svc) mutable {
    std::shared_ptr<nvmf::auth::ParsedKey> psk;
    Status st = Status::ok();
    if (!text.empty()) {
      psk = std::make_shared<nvmf::auth::ParsedKey>();
      st = nvmf::tls::resolve_psk(ring, text, psk.get());
    }
    OPENSSL_cleanse(text.data(), text.size());
    if (!st.is_ok()) return st;
    return svc.set_host_psk(nqn, host, std::move(psk));
  });
}

// nvmfSetDhchapPolicy(engine, nqn, digests[], dhgroups[]) with SPDK's names.
Napi::Value SetDhchapPolicy(const Napi::CallbackInfo& info) {
  std::string nqn = str(info[1]);
  nvmf::auth::DhchapPolicy policy{0, 0};
  std::string unknown;
  Napi::Array digests = info[2].As<Napi::Array>(), groups = info[3].As<Napi::Array>();
  for (uint32_t i = 0; i < digests.Length(); ++i) {
    nvmf::auth::Hash h;
    std::string name = str(digests.Get(i));
    if (nvmf::auth::hash_from_name(name, &h)) policy.hashes |= 1u << static_cast<int>(h);
    else unknown = "unknown digest '" + name + "' (sha256, sha384, sha512)";
  }
  for (uint32_t i = 0; i < groups.Length(); ++i) {
    nvmf::auth::DhGroup g;
    std::string name = str(groups.Get(i));
    if (nvmf::auth::dh_group_from_name(name, &g)) policy.dh_groups |= 1u << static_cast<int>(g);
    else unknown = "unknown DH group '" + name + "' (null, ffdhe2048, ffdhe3072, ffdhe4096, ffdhe6144, ffdhe8192)";
  }
  return simple(info, [nqn, policy, unknown](nvmf::TargetService& svc) {
    if (!unknown.empty()) return Status::error(-EINVAL, unknown);
    return svc.set_dhchap_policy(nqn, policy);
  });
}

// nvmfSetAnaState(engine, nqn, address, port, state 1|2|3)
Napi::Value SetAnaState(const Napi::CallbackInfo& info) {
  std::string nqn = str(info[1]);
  ListenerAddress a{str(info[2]), port_of(info[3])};
  auto state = static_cast<AnaState>(info[4].As<Napi::Number>().Uint32Value());
  return simple(info, [nqn, a, state](nvmf::TargetService& svc) { return svc.set_ana_state(nqn, a, state); });
}

// nvmfList(engine) -> subsystems
Napi::Value List(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  return js->control(info.Env(), [js](ControlRequest* r) {
    auto list = std::make_shared<std::vector<nvmf::SubsystemInfo>>(js->engine().nvmf().list());
    js->finish(r, Status::ok(), [list](Napi::Env e) {
      Napi::Array a = Napi::Array::New(e, list->size());
      for (size_t i = 0; i < list->size(); ++i) a.Set(i, subsystem_value(e, (*list)[i]));
      return a;
    });
  });
}

// nvmfDiscover(engine, address, port, hostnqn|"") -> entries
Napi::Value Discover(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  std::string address = str(info[1]), host = str(info[3]);
  uint16_t port = port_of(info[2]);
  if (host.empty()) host = default_host_nqn();
  return js->control(info.Env(), [js, address, port, host](ControlRequest* r) {
    nvmf::discover(js->engine().app_thread(), address, port, host,
                   [js, r](Status st, std::vector<nvmf::DiscoveryEntry> entries) {
                     auto list = std::make_shared<std::vector<nvmf::DiscoveryEntry>>(std::move(entries));
                     js->finish(r, st, [list](Napi::Env e) {
                       Napi::Array a = Napi::Array::New(e, list->size());
                       for (size_t i = 0; i < list->size(); ++i) {
                         const auto& d = (*list)[i];
                         Napi::Object o = Napi::Object::New(e);
                         o.Set("transport", d.transport);
                         o.Set("addressFamily", d.family);
                         o.Set("subtype", d.subtype);
                         o.Set("address", d.address);
                         o.Set("port", d.service);
                         o.Set("nqn", d.subnqn);
                         o.Set("portId", d.portid);
                         a.Set(i, o);
                       }
                       return a;
                     });
                   });
  });
}

// nvmfListNamespaces(engine, address, port, subnqn, hostnqn, dhchapKey | null,
// dhchapCtrlrKey | null, psk | null) -> the subsystem's active NSIDs, through a controller
// that connects (over TLS with a PSK, authenticating when keys are given), identifies and
// goes (as SPDK's attach does first).
Napi::Value ListNamespaces(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  nvmf::HostControllerOptions o;
  if (info.Length() > 5 && info[5].IsString()) {
    std::string host_key = str(info[5]), ctrl_key = info.Length() > 6 && info[6].IsString() ? str(info[6]) : std::string();
    auto keys = std::make_shared<nvmf::auth::DhchapKeys>();
    Status st = nvmf::auth::resolve_dhchap_secret(&js->engine().keyring(), host_key, &keys->host);
    if (st.is_ok() && !ctrl_key.empty()) {
      keys->has_ctrl = true;
      st = nvmf::auth::resolve_dhchap_secret(&js->engine().keyring(), ctrl_key, &keys->ctrl);
    }
    OPENSSL_cleanse(host_key.data(), host_key.size());
    OPENSSL_cleanse(ctrl_key.data(), ctrl_key.size());
    if (!st.is_ok()) return rejected(info.Env(), st);
    o.dhchap = std::move(keys);
  }
  if (info.Length() > 7 && info[7].IsString()) {  // the TLS PSK: interchange form or 0600 file
    std::string text = str(info[7]);
    auto psk = std::make_shared<nvmf::auth::ParsedKey>();
    Status st = nvmf::tls::resolve_psk(&js->engine().keyring(), text, psk.get());
    OPENSSL_cleanse(text.data(), text.size());
    if (!st.is_ok()) return rejected(info.Env(), st);
    o.tls_psk = std::move(psk);
  }
  o.address = str(info[1]);
  o.port = port_of(info[2]);
  o.subnqn = str(info[3]);
  o.hostnqn = str(info[4]);
  if (o.hostnqn.empty()) o.hostnqn = default_host_nqn();
  Uuid hostid = Uuid::random_v4();
  std::memcpy(o.hostid.data(), hostid.bytes.data(), 16);
  o.nsid = 0;  // identify only
  o.ctrl_loss_timeout_ms = 0;
  return js->control(info.Env(), [js, o](ControlRequest* r) {
    nvmf::HostController::connect(js->engine().app_thread(), o, [js, r](Status st, std::shared_ptr<nvmf::HostController> ctrl) {
      auto list = std::make_shared<std::vector<uint32_t>>();
      if (st.is_ok() && ctrl) {
        *list = ctrl->active_namespaces();
        ctrl->shutdown();
      }
      js->finish(r, st, [list](Napi::Env e) {
        Napi::Array a = Napi::Array::New(e, list->size());
        for (size_t i = 0; i < list->size(); ++i) a.Set(i, (*list)[i]);
        return a;
      });
    });
  });
}

// nvmfErrorCounts(engine) -> { protocol, headerDigest, dataDigest, hostRefused }: what
// ended target connections or refused a host since the engine started.
Napi::Value ErrorCounts(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  return js->control(info.Env(), [js](ControlRequest* r) {
    auto counts = js->engine().nvmf().target().error_counts();
    js->finish(r, Status::ok(), [counts](Napi::Env e) {
      Napi::Object o = Napi::Object::New(e);
      o.Set("protocol", static_cast<double>(counts[static_cast<size_t>(nvmf::TransportError::Protocol)]));
      o.Set("headerDigest", static_cast<double>(counts[static_cast<size_t>(nvmf::TransportError::HeaderDigest)]));
      o.Set("dataDigest", static_cast<double>(counts[static_cast<size_t>(nvmf::TransportError::DataDigest)]));
      o.Set("hostRefused", static_cast<double>(counts[static_cast<size_t>(nvmf::TransportError::HostRefused)]));
      return o;
    });
  });
}

// keyringAddKey(engine, name, path), keyringRemoveKey(engine, name): the engine's file
// keyring (no reactor work: the keyring has its own lock). Promises, rejected with the code.
Napi::Value resolved(Napi::Env env, const Status& st) {
  if (!st.is_ok()) return rejected(env, st);
  auto deferred = Napi::Promise::Deferred::New(env);
  deferred.Resolve(env.Undefined());
  return deferred.Promise();
}

Napi::Value KeyringAddKey(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  return resolved(info.Env(), js->engine().keyring().add(str(info[1]), str(info[2])));
}

Napi::Value KeyringRemoveKey(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  return resolved(info.Env(), js->engine().keyring().remove(str(info[1])));
}

// keyringListKeys(engine) -> [{ name, path }]: names and paths, never a key.
Napi::Value KeyringListKeys(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  const auto keys = js->engine().keyring().list();
  Napi::Array out = Napi::Array::New(info.Env(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("name", keys[i].first);
    o.Set("path", keys[i].second);
    out.Set(i, o);
  }
  return out;
}

// nvmfHostNqn() -> this process's default host NQN
Napi::Value HostNqn(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), default_host_nqn()); }

}  // namespace

void register_nvmf_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("nvmfCreateSubsystem", Napi::Function::New(env, CreateSubsystem));
  exports.Set("nvmfDestroySubsystem", Napi::Function::New(env, DestroySubsystem));
  exports.Set("nvmfAddNamespace", Napi::Function::New(env, AddNamespace));
  exports.Set("nvmfRemoveNamespace", Napi::Function::New(env, RemoveNamespace));
  exports.Set("nvmfAddListener", Napi::Function::New(env, AddListener));
  exports.Set("nvmfRemoveListener", Napi::Function::New(env, RemoveListener));
  exports.Set("nvmfAddHost", Napi::Function::New(env, AddHost));
  exports.Set("nvmfSetAllowAnyHost", Napi::Function::New(env, SetAllowAnyHost));
  exports.Set("nvmfRemoveHost", Napi::Function::New(env, RemoveHost));
  exports.Set("nvmfSetHostKeys", Napi::Function::New(env, SetHostKeys));
  exports.Set("nvmfSetHostPsk", Napi::Function::New(env, SetHostPsk));
  exports.Set("nvmfSetDhchapPolicy", Napi::Function::New(env, SetDhchapPolicy));
  exports.Set("nvmfSetAnaState", Napi::Function::New(env, SetAnaState));
  exports.Set("nvmfList", Napi::Function::New(env, List));
  exports.Set("nvmfDiscover", Napi::Function::New(env, Discover));
  exports.Set("nvmfHostNqn", Napi::Function::New(env, HostNqn));
  exports.Set("nvmfErrorCounts", Napi::Function::New(env, ErrorCounts));
  exports.Set("nvmfListNamespaces", Napi::Function::New(env, ListNamespaces));
  exports.Set("keyringAddKey", Napi::Function::New(env, KeyringAddKey));
  exports.Set("keyringRemoveKey", Napi::Function::New(env, KeyringRemoveKey));
  exports.Set("keyringListKeys", Napi::Function::New(env, KeyringListKeys));
}

}  // namespace nds::binding
