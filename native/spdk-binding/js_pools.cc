// N-API glue for lvol stores (pools) and lvols. Pools and lvols are named, not handles:
// every call finds them again on the app thread (ENOENT once gone). An lvol's bdev is
// handed to JavaScript as a bdev handle when the lvol is created or imported, and that
// handle is released before the lvol or its pool goes away.
#include "js_pools.h"

#include "lvol/lvol_bdev.h"

#include "js_engine.h"
#include "js_values.h"

namespace nds::binding {
namespace {

using lvs::Lvol;
using lvs::LvolStore;

Napi::Object pool_value(Napi::Env env, const lvs::PoolInfo& p) {
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", p.name);
  o.Set("uuid", p.uuid);
  o.Set("disk", p.disk);
  o.Set("clusterSizeBytes", num(p.cluster_size));
  o.Set("totalBytes", num(p.total_bytes));
  o.Set("usedBytes", num(p.used_bytes));
  o.Set("committedBytes", num(p.committed_bytes));
  o.Set("availableBytes", num(p.available_bytes));
  o.Set("metadataPages", num(p.metadata_pages));
  o.Set("metadataPagesUsed", num(p.metadata_pages_used));
  o.Set("importedDirty", p.imported_dirty);
  return o;
}

Napi::Object lvol_value(Napi::Env env, const lvs::LvolInfo& l) {
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", l.name);
  o.Set("bdevName", l.bdev_name);
  o.Set("uuid", l.uuid);
  o.Set("parent", l.parent.empty() ? env.Null() : Napi::String::New(env, l.parent));
  o.Set("sizeBytes", num(l.size_bytes));
  o.Set("allocatedBytes", num(l.allocated_bytes));
  o.Set("thin", l.thin);
  o.Set("readOnly", l.read_only);
  Napi::Object props = Napi::Object::New(env);
  for (auto& [k, v] : l.properties) props.Set(k, v);
  o.Set("properties", props);
  return o;
}

// An lvol as JavaScript first sees it: its information and a handle on its bdev.
struct LvolWithHandle {
  lvs::LvolInfo info;
  std::shared_ptr<JsBdev> handle;
  BdevProperties props;
};

Status with_handle(JsEngine* js, LvolStore* store, Lvol* lvol, LvolWithHandle* out) {
  out->info = store->lvol_info(*lvol);
  out->props = bdev_properties(*lvol->bdev);
  return js->open_handle(lvol->bdev, &out->handle);
}

Napi::Value lvol_with_handle_value(Napi::Env env, const LvolWithHandle& l) {
  Napi::Object o = lvol_value(env, l.info);
  o.Set("bdev", bdev_created_value(env, l.handle, l.props));
  return o;
}

// Runs `op` on the app thread with the named pool (ENOENT if none).
using PoolOp = std::function<void(LvolStore*, ControlRequest*)>;
Napi::Value with_pool(const Napi::CallbackInfo& info, JsEngine* js, PoolOp op) {
  std::string pool = info[1].As<Napi::String>();
  return js->control(info.Env(), [js, pool, op = std::move(op)](ControlRequest* r) {
    LvolStore* store = js->engine().pools().find(pool);
    if (!store) return js->finish(r, Status::error(-ENOENT, "pool " + pool + " does not exist"));
    op(store, r);
  });
}

using LvolOp = std::function<void(LvolStore*, Lvol*, ControlRequest*)>;
Napi::Value with_lvol(const Napi::CallbackInfo& info, JsEngine* js, LvolOp op) {
  std::string name = info[2].As<Napi::String>();
  return with_pool(info, js, [js, name, op = std::move(op)](LvolStore* store, ControlRequest* r) {
    Lvol* lvol = store->find_lvol(name);
    if (!lvol) return js->finish(r, Status::error(-ENOENT, "lvol " + store->name() + "/" + name + " does not exist"));
    op(store, lvol, r);
  });
}

// Settles with the lvol's current information (no new handle).
void finish_with_info(JsEngine* js, ControlRequest* r, LvolStore* store, const std::string& name, Status st) {
  Lvol* lvol = st.is_ok() ? store->find_lvol(name) : nullptr;
  if (!lvol) return js->finish(r, st.is_ok() ? Status::error(-ENOENT, "lvol " + name + " went away") : st);
  lvs::LvolInfo info = store->lvol_info(*lvol);
  js->finish(r, st, [info](Napi::Env e) { return lvol_value(e, info); });
}

// Settles with the pool's information and every lvol with a handle (create, import).
void finish_with_pool(JsEngine* js, ControlRequest* r, LvolStore* store) {
  lvs::PoolInfo pool = store->info();
  auto lvols = std::make_shared<std::vector<LvolWithHandle>>();
  for (Lvol* lvol : store->lvols()) {
    LvolWithHandle l;
    Status st = with_handle(js, store, lvol, &l);
    if (!st.is_ok()) return js->finish(r, st);
    lvols->push_back(std::move(l));
  }
  js->finish(r, Status::ok(), [pool, lvols](Napi::Env e) {
    Napi::Object o = Napi::Object::New(e);
    o.Set("pool", pool_value(e, pool));
    Napi::Array list = Napi::Array::New(e, lvols->size());
    for (size_t i = 0; i < lvols->size(); ++i) list.Set(i, lvol_with_handle_value(e, (*lvols)[i]));
    o.Set("lvols", list);
    return o;
  });
}

std::vector<const Bdev*> lvol_bdevs(LvolStore* store) {
  std::vector<const Bdev*> out;
  for (Lvol* lvol : store->lvols())
    if (lvol->bdev) out.push_back(lvol->bdev);
  return out;
}

// poolCreate(engine, name, disk, clusterSizeBytes)
Napi::Value PoolCreate(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  std::string name = info[1].As<Napi::String>(), disk = info[2].As<Napi::String>();
  auto cluster = static_cast<uint64_t>(info[3].As<Napi::Number>().Int64Value());
  return js->control(info.Env(), [js, name, disk, cluster](ControlRequest* r) {
    js->engine().pools().create(name, disk, cluster, [js, r](Status st, LvolStore* store) {
      if (!st.is_ok()) return js->finish(r, st);
      finish_with_pool(js, r, store);
    });
  });
}

// poolImport(engine, disk)
Napi::Value PoolImport(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  std::string disk = info[1].As<Napi::String>();
  return js->control(info.Env(), [js, disk](ControlRequest* r) {
    js->engine().pools().import(disk, [js, r](Status st, LvolStore* store) {
      if (!st.is_ok()) return js->finish(r, st);
      finish_with_pool(js, r, store);
    });
  });
}

// poolInfo(engine, name) -> { pool, lvols: info[] }
Napi::Value PoolInfo(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  return with_pool(info, js, [js](LvolStore* store, ControlRequest* r) {
    lvs::PoolInfo pool = store->info();
    auto lvols = std::make_shared<std::vector<lvs::LvolInfo>>();
    for (Lvol* lvol : store->lvols()) lvols->push_back(store->lvol_info(*lvol));
    js->finish(r, Status::ok(), [pool, lvols](Napi::Env e) {
      Napi::Object o = Napi::Object::New(e);
      o.Set("pool", pool_value(e, pool));
      Napi::Array list = Napi::Array::New(e, lvols->size());
      for (size_t i = 0; i < lvols->size(); ++i) list.Set(i, lvol_value(e, (*lvols)[i]));
      o.Set("lvols", list);
      return o;
    });
  });
}

// poolCheck(engine, name): EIO when the in-memory metadata is inconsistent.
Napi::Value PoolCheck(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  return with_pool(info, js, [js](LvolStore* store, ControlRequest* r) { js->finish(r, store->fsck()); });
}

Napi::Value PoolClose(const Napi::CallbackInfo& info, bool wipe) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  return with_pool(info, js, [js, wipe](LvolStore* store, ControlRequest* r) {
    std::string name = store->name();
    Status refused = store->check_closable(wipe);
    if (!refused.is_ok()) return js->finish(r, refused);  // before the handles go: they stay usable
    js->release_handles_of(lvol_bdevs(store), [js, name, wipe, r] {
      LvolStore* again = js->engine().pools().find(name);
      if (!again) return js->finish(r, Status::error(-ENOENT, "pool " + name + " does not exist"));
      auto done = [js, r](Status st) { js->finish(r, st); };
      if (wipe) again->destroy_pool(done);
      else again->export_pool(done);
    });
  });
}
Napi::Value PoolExport(const Napi::CallbackInfo& info) { return PoolClose(info, false); }
Napi::Value PoolDestroy(const Napi::CallbackInfo& info) { return PoolClose(info, true); }

Napi::Value PoolGrow(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  return with_pool(info, js, [js](LvolStore* store, ControlRequest* r) {
    store->grow([js, r, store](Status st) {
      lvs::PoolInfo pool = store->info();
      js->finish(r, st, [pool](Napi::Env e) { return pool_value(e, pool); });
    });
  });
}

// lvolCreate(engine, pool, name, sizeBytes, thin)
Napi::Value LvolCreate(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  std::string name = info[2].As<Napi::String>();
  auto size = static_cast<uint64_t>(info[3].As<Napi::Number>().Int64Value());
  bool thin = info[4].As<Napi::Boolean>();
  return with_pool(info, js, [js, name, size, thin](LvolStore* store, ControlRequest* r) {
    store->create_lvol(name, size, thin, [js, r, store](Status st, Lvol* lvol) {
      LvolWithHandle l;
      if (st.is_ok()) st = with_handle(js, store, lvol, &l);
      if (!st.is_ok()) return js->finish(r, st);
      js->finish(r, st, [l](Napi::Env e) { return lvol_with_handle_value(e, l); });
    });
  });
}

// lvolSnapshot(engine, pool, lvol, name) -> { snapshot, origin }
Napi::Value LvolSnapshot(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  std::string snap_name = info[3].As<Napi::String>();
  return with_lvol(info, js, [js, snap_name](LvolStore* store, Lvol* origin, ControlRequest* r) {
    store->snapshot(origin, snap_name, [js, r, store, origin](Status st, Lvol* snap) {
      LvolWithHandle s;
      if (st.is_ok()) st = with_handle(js, store, snap, &s);
      if (!st.is_ok()) return js->finish(r, st);
      lvs::LvolInfo o = store->lvol_info(*origin);
      js->finish(r, st, [s, o](Napi::Env e) {
        Napi::Object out = Napi::Object::New(e);
        out.Set("snapshot", lvol_with_handle_value(e, s));
        out.Set("origin", lvol_value(e, o));
        return out;
      });
    });
  });
}

// lvolClone(engine, pool, snapshot, name)
Napi::Value LvolClone(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  std::string clone_name = info[3].As<Napi::String>();
  return with_lvol(info, js, [js, clone_name](LvolStore* store, Lvol* snap, ControlRequest* r) {
    store->clone(snap, clone_name, [js, r, store](Status st, Lvol* clone) {
      LvolWithHandle c;
      if (st.is_ok()) st = with_handle(js, store, clone, &c);
      if (!st.is_ok()) return js->finish(r, st);
      js->finish(r, st, [c](Napi::Env e) { return lvol_with_handle_value(e, c); });
    });
  });
}

// lvolResize(engine, pool, lvol, sizeBytes)
Napi::Value LvolResize(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  auto size = static_cast<uint64_t>(info[3].As<Napi::Number>().Int64Value());
  return with_lvol(info, js, [js, size](LvolStore* store, Lvol* lvol, ControlRequest* r) {
    std::string name = lvol->rec.name;
    store->resize(lvol, size, [js, r, store, name](Status st) { finish_with_info(js, r, store, name, st); });
  });
}

Napi::Value LvolCopyDown(const Napi::CallbackInfo& info, bool inflate) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  return with_lvol(info, js, [js, inflate](LvolStore* store, Lvol* lvol, ControlRequest* r) {
    std::string name = lvol->rec.name;
    auto done = [js, r, store, name](Status st) { finish_with_info(js, r, store, name, st); };
    if (inflate) store->inflate(lvol, done);
    else store->decouple_parent(lvol, done);
  });
}
Napi::Value LvolInflate(const Napi::CallbackInfo& info) { return LvolCopyDown(info, true); }
Napi::Value LvolDecouple(const Napi::CallbackInfo& info) { return LvolCopyDown(info, false); }

// lvolSetProperty(engine, pool, lvol, key, value)
Napi::Value LvolSetProperty(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  std::string key = info[3].As<Napi::String>(), value = info[4].As<Napi::String>();
  return with_lvol(info, js, [js, key, value](LvolStore* store, Lvol* lvol, ControlRequest* r) {
    std::string name = lvol->rec.name;
    store->set_property(lvol, key, value, [js, r, store, name](Status st) { finish_with_info(js, r, store, name, st); });
  });
}

// lvolSetReadOnly(engine, pool, lvol)
Napi::Value LvolSetReadOnly(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  return with_lvol(info, js, [js](LvolStore* store, Lvol* lvol, ControlRequest* r) {
    std::string name = lvol->rec.name;
    store->set_read_only(lvol, [js, r, store, name](Status st) { finish_with_info(js, r, store, name, st); });
  });
}

// lvolDestroy(engine, pool, lvol)
Napi::Value LvolDestroy(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  return with_lvol(info, js, [js](LvolStore* store, Lvol* lvol, ControlRequest* r) {
    Status refused = store->check_destroyable(lvol);
    if (!refused.is_ok()) return js->finish(r, refused);  // before the handle goes: it stays usable
    std::string pool = store->name(), name = lvol->rec.name;
    js->release_handles_of({lvol->bdev}, [js, r, pool, name] {
      LvolStore* s = js->engine().pools().find(pool);
      Lvol* l = s ? s->find_lvol(name) : nullptr;
      if (!l) return js->finish(r, Status::error(-ENOENT, "lvol " + pool + "/" + name + " does not exist"));
      s->destroy_lvol(l, [js, r](Status st) { js->finish(r, st); });
    });
  });
}

}  // namespace

void register_pool_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("poolCreate", Napi::Function::New(env, PoolCreate));
  exports.Set("poolImport", Napi::Function::New(env, PoolImport));
  exports.Set("poolInfo", Napi::Function::New(env, PoolInfo));
  exports.Set("poolCheck", Napi::Function::New(env, PoolCheck));
  exports.Set("poolExport", Napi::Function::New(env, PoolExport));
  exports.Set("poolDestroy", Napi::Function::New(env, PoolDestroy));
  exports.Set("poolGrow", Napi::Function::New(env, PoolGrow));
  exports.Set("lvolCreate", Napi::Function::New(env, LvolCreate));
  exports.Set("lvolSnapshot", Napi::Function::New(env, LvolSnapshot));
  exports.Set("lvolClone", Napi::Function::New(env, LvolClone));
  exports.Set("lvolResize", Napi::Function::New(env, LvolResize));
  exports.Set("lvolInflate", Napi::Function::New(env, LvolInflate));
  exports.Set("lvolDecoupleParent", Napi::Function::New(env, LvolDecouple));
  exports.Set("lvolSetProperty", Napi::Function::New(env, LvolSetProperty));
  exports.Set("lvolSetReadOnly", Napi::Function::New(env, LvolSetReadOnly));
  exports.Set("lvolDestroy", Napi::Function::New(env, LvolDestroy));
}

}  // namespace nds::binding
