// N-API glue for nexuses. A nexus is named: every call finds it again on the app thread
// (ENOENT once gone). JavaScript also holds the nexus's status board, which it reads
// synchronously for states and rebuild progress. Arguments arrive validated by src/nexus/.
#include "js_nexus.h"

#include "js_engine.h"
#include "js_values.h"

namespace nds::binding {

using nexus::Nexus;
using nexus::NexusInfo;
using nexus::RebuildStats;
using nexus::StatusBoard;

// ---------------------------------------------------------------- bridge

NexusBridge& JsEngine::nexus_bridge() {
  if (!nexus_bridge_) {
    nexus_bridge_ = std::make_unique<NexusBridge>(this);
    NexusBridge* bridge = nexus_bridge_.get();
    engine_->nexuses().set_event_sink([bridge](const nexus::NexusEvent& e) { bridge->post(e); });
    engine_->nexuses().set_persist_handler([bridge](const std::string& name, const nexus::PersistInfo& info,
                                                    std::function<void(Status)> done) {
      bridge->request_persist(name, info, std::move(done));
    });
  }
  return *nexus_bridge_;
}

namespace {

Napi::Value rebuild_value(Napi::Env env, const RebuildStats& r) {
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Object o = Napi::Object::New(env);
  o.Set("childUri", r.child_uri);
  o.Set("sourceUri", r.source_uri);
  o.Set("state", nexus::rebuild_state_name(r.state));
  o.Set("partial", r.partial);
  o.Set("bytesTotal", num(r.bytes_total));
  o.Set("bytesRebuilt", num(r.bytes_rebuilt));
  o.Set("segmentsTotal", num(r.segments_total));
  o.Set("segmentsDone", num(r.segments_done));
  o.Set("startedAt", num(r.started_at_ms));
  o.Set("endedAt", r.ended_at_ms ? num(r.ended_at_ms) : env.Null());
  o.Set("bytesPerSec", Napi::Number::New(env, r.bytes_per_sec));
  if (!r.error.empty()) o.Set("error", r.error);
  return o;
}

Napi::Value info_value(Napi::Env env, const NexusInfo& info) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", info.name);
  o.Set("uuid", info.uuid);
  o.Set("sizeBytes", Napi::Number::New(env, static_cast<double>(info.size_bytes)));
  o.Set("blockSize", info.block_size);
  o.Set("state", nexus::nexus_state_name(info.state));
  Napi::Array children = Napi::Array::New(env, info.children.size());
  for (size_t i = 0; i < info.children.size(); ++i) {
    const auto& c = info.children[i];
    Napi::Object child = Napi::Object::New(env);
    child.Set("uri", c.uri);
    child.Set("bdevName", c.bdev_name);
    child.Set("state", nexus::child_state_name(c.state));
    if (c.reason != nexus::FaultReason::None) child.Set("reason", nexus::fault_reason_name(c.reason));
    child.Set("syncState", nexus::sync_state_name(c.sync));
    if (c.rebuilding) {
      double total = static_cast<double>(c.rebuild.bytes_total);
      child.Set("rebuildProgress", total > 0 ? static_cast<double>(c.rebuild.bytes_rebuilt) / total : 0.0);
      child.Set("rebuild", rebuild_value(env, c.rebuild));
    }
    children.Set(i, child);
  }
  o.Set("children", children);
  Napi::Array history = Napi::Array::New(env, info.history.size());
  for (size_t i = 0; i < info.history.size(); ++i) history.Set(i, rebuild_value(env, info.history[i]));
  o.Set("history", history);
  return o;
}

Napi::Value persist_info_value(Napi::Env env, const nexus::PersistInfo& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", p.name);
  o.Set("uuid", p.uuid);
  o.Set("cleanShutdown", p.clean_shutdown);
  Napi::Array children = Napi::Array::New(env, p.children.size());
  for (size_t i = 0; i < p.children.size(); ++i) {
    Napi::Object c = Napi::Object::New(env);
    c.Set("uri", p.children[i].uri);
    c.Set("healthy", p.children[i].healthy);
    children.Set(i, c);
  }
  o.Set("children", children);
  return o;
}

const char* event_kind_name(nexus::EventKind k) {
  switch (k) {
    case nexus::EventKind::Child: return "child";
    case nexus::EventKind::State: return "state";
    case nexus::EventKind::Rebuild: return "rebuild";
  }
  return "unknown";
}

// The status board travels to JavaScript as a type-tagged external.
const napi_type_tag kBoardTag = {0x6e6578757362726dULL, 0x64626f6172640001ULL};

Napi::Value wrap_board(Napi::Env env, std::shared_ptr<StatusBoard> board) {
  auto ext = Napi::External<std::shared_ptr<StatusBoard>>::New(env, new std::shared_ptr<StatusBoard>(std::move(board)),
                                                               [](Napi::Env, std::shared_ptr<StatusBoard>* p) { delete p; });
  ext.TypeTag(&kBoardTag);
  return ext;
}

StatusBoard* unwrap_board(const Napi::Value& v) {
  if (!v.IsExternal() || !v.As<Napi::Object>().CheckTypeTag(&kBoardTag)) {
    Napi::TypeError::New(v.Env(), "not a nexus status handle").ThrowAsJavaScriptException();
    return nullptr;
  }
  return v.As<Napi::External<std::shared_ptr<StatusBoard>>>().Data()->get();
}

std::string str(const Napi::Value& v) { return v.As<Napi::String>(); }

// Runs op on the app thread with the named nexus (ENOENT if none).
using NexusOp = std::function<void(JsEngine*, Nexus*, ControlRequest*)>;
Napi::Value with_nexus(const Napi::CallbackInfo& info, NexusOp op) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  std::string name = str(info[1]);
  return js->control(info.Env(), [js, name, op = std::move(op)](ControlRequest* r) {
    Nexus* nexus = js->engine().nexuses().find(name);
    if (!nexus) return js->finish(r, Status::error(-ENOENT, "nexus " + name + " does not exist"));
    op(js, nexus, r);
  });
}

// A child operation: (engine, name, uri).
using ChildOp = void (Nexus::*)(const std::string&, std::function<void(Status)>);
Napi::Value child_op(const Napi::CallbackInfo& info, ChildOp op) {
  std::string uri = str(info[2]);
  return with_nexus(info, [uri, op](JsEngine* js, Nexus* n, ControlRequest* r) {
    (n->*op)(uri, [js, r](Status st) { js->finish(r, st); });
  });
}

// nexusCreate(engine, { name, uuid|null, sizeBytes, children[], persist, segmentBytes, parallel, verify })
//   -> { bdev, board }
Napi::Value Create(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  Napi::Object o = info[1].As<Napi::Object>();
  nexus::NexusOptions options;
  options.name = str(o.Get("name"));
  options.uuid = Uuid::random_v4();
  if (o.Get("uuid").IsString()) {
    auto parsed = Uuid::parse(str(o.Get("uuid")));
    if (parsed) options.uuid = *parsed;
  }
  options.size_bytes = static_cast<uint64_t>(o.Get("sizeBytes").As<Napi::Number>().DoubleValue());
  Napi::Array children = o.Get("children").As<Napi::Array>();
  for (uint32_t i = 0; i < children.Length(); ++i) options.children.push_back(str(children.Get(i)));
  options.persist = o.Get("persist").As<Napi::Boolean>();
  options.rebuild.segment_bytes = static_cast<uint64_t>(o.Get("segmentBytes").As<Napi::Number>().DoubleValue());
  options.rebuild.parallel = o.Get("parallel").As<Napi::Number>().Uint32Value();
  options.rebuild.verify = o.Get("verify").As<Napi::Boolean>();
  std::string policy = str(o.Get("readPolicy"));
  options.io.reads = policy == "striped"       ? nexus::ReadPolicy::Striped
                     : policy == "round-robin" ? nexus::ReadPolicy::RoundRobin
                                               : nexus::ReadPolicy::LeastLoaded;
  options.io.timeout_ms = o.Get("ioTimeoutMs").As<Napi::Number>().Uint32Value();
  return js->control(info.Env(), [js, options](ControlRequest* r) {
    js->nexus_bridge();
    js->install_engine_hooks();
    js->engine().nexuses().create(options, [js, r](Status st, Nexus* n) {
      if (!st.is_ok()) return js->finish(r, st);
      std::shared_ptr<JsBdev> handle;
      Status opened = js->open_handle(n, &handle);
      if (!opened.is_ok()) return js->finish(r, opened);
      BdevProperties props = bdev_properties(*n);
      auto board = n->status_board();
      js->finish(r, Status::ok(), [handle, props, board](Napi::Env e) {
        Napi::Object out = Napi::Object::New(e);
        out.Set("bdev", bdev_created_value(e, handle, props));
        out.Set("board", wrap_board(e, board));
        return out;
      });
    });
  });
}

// nexusStatus(board) -> info (synchronous)
Napi::Value StatusOf(const Napi::CallbackInfo& info) {
  StatusBoard* board = unwrap_board(info[0]);
  if (!board) return info.Env().Undefined();
  return info_value(info.Env(), board->get());
}

// nexusAddChild(engine, name, uri, rebuild)
Napi::Value AddChild(const Napi::CallbackInfo& info) {
  std::string uri = str(info[2]);
  bool rebuild = info[3].As<Napi::Boolean>();
  return with_nexus(info, [uri, rebuild](JsEngine* js, Nexus* n, ControlRequest* r) {
    n->add_child(uri, rebuild, [js, r](Status st) { js->finish(r, st); });
  });
}

Napi::Value RemoveChild(const Napi::CallbackInfo& info) { return child_op(info, &Nexus::remove_child); }
Napi::Value FaultChild(const Napi::CallbackInfo& info) { return child_op(info, &Nexus::fault_child); }
Napi::Value OfflineChild(const Napi::CallbackInfo& info) { return child_op(info, &Nexus::offline_child); }
Napi::Value OnlineChild(const Napi::CallbackInfo& info) { return child_op(info, &Nexus::online_child); }
Napi::Value StopRebuild(const Napi::CallbackInfo& info) { return child_op(info, &Nexus::stop_rebuild); }

// nexusPauseRebuild(engine, name, uri) / nexusResumeRebuild(engine, name, uri)
Napi::Value PauseRebuild(const Napi::CallbackInfo& info) {
  std::string uri = str(info[2]);
  return with_nexus(info, [uri](JsEngine* js, Nexus* n, ControlRequest* r) { js->finish(r, n->pause_rebuild(uri)); });
}
Napi::Value ResumeRebuild(const Napi::CallbackInfo& info) {
  std::string uri = str(info[2]);
  return with_nexus(info, [uri](JsEngine* js, Nexus* n, ControlRequest* r) { js->finish(r, n->resume_rebuild(uri)); });
}

// nexusPauseWrites(engine, name) / nexusResumeWrites(engine, name)
Napi::Value PauseWrites(const Napi::CallbackInfo& info) {
  return with_nexus(info, [](JsEngine* js, Nexus* n, ControlRequest* r) { n->pause_writes([js, r](Status st) { js->finish(r, st); }); });
}
Napi::Value ResumeWrites(const Napi::CallbackInfo& info) {
  return with_nexus(info, [](JsEngine* js, Nexus* n, ControlRequest* r) { n->resume_writes([js, r](Status st) { js->finish(r, st); }); });
}

// nexusGrow(engine, name, sizeBytes)
Napi::Value Grow(const Napi::CallbackInfo& info) {
  auto size = static_cast<uint64_t>(info[2].As<Napi::Number>().DoubleValue());
  return with_nexus(info, [size](JsEngine* js, Nexus* n, ControlRequest* r) { n->grow(size, [js, r](Status st) { js->finish(r, st); }); });
}

// nexusShutdown(engine, name): stops serving, persists a clean shutdown.
Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  return with_nexus(info, [](JsEngine* js, Nexus* n, ControlRequest* r) {
    n->shutdown(true, [js, r] { js->finish(r, Status::ok()); });
  });
}

// nexusDestroy(engine, name): releases JavaScript's handle on the nexus bdev, then destroys.
Napi::Value Destroy(const Napi::CallbackInfo& info) {
  return with_nexus(info, [](JsEngine* js, Nexus* n, ControlRequest* r) {
    std::string name = n->name();
    js->release_handles_of({n}, [js, r, name] {
      js->engine().nexuses().destroy(name, [js, r](Status st) { js->finish(r, st); });
    });
  });
}

// nexusEvents(engine) -> events[] | null (the engine is stopping). A background wait.
Napi::Value Events(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  return js->control_background(info.Env(), [js](ControlRequest* r) {
    js->install_engine_hooks();  // the first wait installs the hooks whose events come here
    js->nexus_bridge().wait(r);
  });
}

// bdevTakeAdopted(engine) -> created[]: bdevs nexuses made from child URIs since the last
// call (synchronous; JavaScript calls it after every nexus operation).
Napi::Value TakeAdopted(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  auto adopted = js->take_adopted();
  Napi::Array out = Napi::Array::New(info.Env(), adopted.size());
  for (size_t i = 0; i < adopted.size(); ++i) out.Set(i, bdev_created_value(info.Env(), adopted[i].first, adopted[i].second));
  return out;
}

// bdevReleaseHeld(engine, id): JavaScript stopped using the bdev of release request id.
Napi::Value ReleaseHeld(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  auto id = static_cast<uint64_t>(info[1].As<Napi::Number>().DoubleValue());
  return js->control(info.Env(), [js, id](ControlRequest* r) {
    js->release_held(id, [js, r] { js->finish(r, Status::ok()); });
  });
}

// nexusPersistDone(engine, id, errorMessage|null)
Napi::Value PersistDone(const Napi::CallbackInfo& info) {
  JsEngine* js = running_engine(info);
  if (!js) return info.Env().Undefined();
  auto id = static_cast<uint64_t>(info[1].As<Napi::Number>().DoubleValue());
  Status st = info[2].IsString() ? Status::error(-EIO, "the persistence hook failed: " + str(info[2])) : Status::ok();
  return js->control(info.Env(), [js, id, st](ControlRequest* r) {
    js->nexus_bridge().persist_done(id, st);
    js->finish(r, Status::ok());
  });
}

}  // namespace

void NexusBridge::post(const nexus::NexusEvent& event) {
  if (closed_) return;
  Item item;
  item.event = event;
  queue_.push_back(std::move(item));
  deliver();
}

void NexusBridge::request_persist(const std::string& nexus, const nexus::PersistInfo& info,
                                  std::function<void(Status)> done) {
  if (closed_) return done(Status::error(-ESHUTDOWN, "the engine is stopping"));
  uint64_t id = next_id_++;
  persisting_[id] = std::move(done);
  Item item;
  item.event = nexus::NexusEvent{nexus::EventKind::State, nexus, "", ""};
  item.persist = true;
  item.id = id;
  item.info = info;
  queue_.push_back(std::move(item));
  deliver();
}

void NexusBridge::post_host(const std::string& subnqn, const std::string& hostnqn, uint16_t cntlid, bool connected) {
  if (closed_) return;
  Item item;
  item.host = true;
  item.event = nexus::NexusEvent{nexus::EventKind::State, subnqn, "", connected ? "connected" : "disconnected"};
  item.bdev = hostnqn;
  item.id = cntlid;
  queue_.push_back(std::move(item));
  deliver();
}

void NexusBridge::request_release(uint64_t id, const std::string& bdev) {
  Item item;
  item.release = true;
  item.id = id;
  item.bdev = bdev;
  queue_.push_back(std::move(item));
  deliver();
}

void NexusBridge::persist_done(uint64_t id, Status status) {
  auto it = persisting_.find(id);
  if (it == persisting_.end()) return;
  auto done = std::move(it->second);
  persisting_.erase(it);
  done(status);
}

void NexusBridge::wait(ControlRequest* request) {
  if (closed_) return js_->finish(request, Status::ok(), [](Napi::Env e) { return e.Null(); });
  if (waiting_) return js_->finish(request, Status::error(-EBUSY, "nexus events are already being awaited"));
  waiting_ = request;
  deliver();
}

void NexusBridge::close() {
  closed_ = true;
  queue_.clear();
  auto pending = std::move(persisting_);
  persisting_.clear();
  for (auto& [id, done] : pending) done(Status::error(-ESHUTDOWN, "the engine is stopping"));
  if (waiting_) {
    ControlRequest* r = waiting_;
    waiting_ = nullptr;
    js_->finish(r, Status::ok(), [](Napi::Env e) { return e.Null(); });
  }
}

void NexusBridge::deliver() {
  if (!waiting_ || queue_.empty()) return;
  auto items = std::make_shared<std::deque<Item>>(std::move(queue_));
  queue_.clear();
  ControlRequest* r = waiting_;
  waiting_ = nullptr;
  js_->finish(r, Status::ok(), [items](Napi::Env env) {
    Napi::Array out = Napi::Array::New(env, items->size());
    for (size_t i = 0; i < items->size(); ++i) {
      const Item& item = (*items)[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("nexus", item.event.nexus);
      if (item.host) {
        o.Set("kind", "host");
        o.Set("hostNqn", item.bdev);
        o.Set("cntlid", Napi::Number::New(env, static_cast<double>(item.id)));
        o.Set("detail", item.event.detail);
      } else if (item.release) {
        o.Set("kind", "release");
        o.Set("id", Napi::Number::New(env, static_cast<double>(item.id)));
        o.Set("bdev", item.bdev);
      } else if (item.persist) {
        o.Set("kind", "persist");
        o.Set("id", Napi::Number::New(env, static_cast<double>(item.id)));
        o.Set("info", persist_info_value(env, item.info));
      } else {
        o.Set("kind", event_kind_name(item.event.kind));
        if (!item.event.child_uri.empty()) o.Set("child", item.event.child_uri);
        o.Set("detail", item.event.detail);
      }
      out.Set(i, o);
    }
    return out;
  });
}

void register_nexus_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("nexusCreate", Napi::Function::New(env, Create));
  exports.Set("nexusStatus", Napi::Function::New(env, StatusOf));
  exports.Set("nexusAddChild", Napi::Function::New(env, AddChild));
  exports.Set("nexusRemoveChild", Napi::Function::New(env, RemoveChild));
  exports.Set("nexusFaultChild", Napi::Function::New(env, FaultChild));
  exports.Set("nexusOfflineChild", Napi::Function::New(env, OfflineChild));
  exports.Set("nexusOnlineChild", Napi::Function::New(env, OnlineChild));
  exports.Set("nexusPauseRebuild", Napi::Function::New(env, PauseRebuild));
  exports.Set("nexusPauseWrites", Napi::Function::New(env, PauseWrites));
  exports.Set("nexusResumeWrites", Napi::Function::New(env, ResumeWrites));
  exports.Set("nexusGrow", Napi::Function::New(env, Grow));
  exports.Set("nexusResumeRebuild", Napi::Function::New(env, ResumeRebuild));
  exports.Set("nexusStopRebuild", Napi::Function::New(env, StopRebuild));
  exports.Set("nexusShutdown", Napi::Function::New(env, Shutdown));
  exports.Set("nexusDestroy", Napi::Function::New(env, Destroy));
  exports.Set("nexusEvents", Napi::Function::New(env, Events));
  exports.Set("nexusPersistDone", Napi::Function::New(env, PersistDone));
  exports.Set("bdevTakeAdopted", Napi::Function::New(env, TakeAdopted));
  exports.Set("bdevReleaseHeld", Napi::Function::New(env, ReleaseHeld));
}

}  // namespace nds::binding
