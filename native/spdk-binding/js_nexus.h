// N-API functions for nexuses (js_nexus.cc), and the bridge that carries their events and
// persistence requests to JavaScript: JavaScript keeps one background wait open
// (nexusEvents), which the app thread settles with everything queued since the last one.
#pragma once
#include <napi.h>

#include <deque>
#include <functional>
#include <map>

#include "nexus/nexus_types.h"
#include "util/status.h"

namespace nds::binding {

class JsEngine;
struct ControlRequest;

class NexusBridge {
 public:
  explicit NexusBridge(JsEngine* js) : js_(js) {}

  // App thread.
  void post(const nexus::NexusEvent& event);
  void request_persist(const std::string& nexus, const nexus::PersistInfo& info, std::function<void(Status)> done);
  void persist_done(uint64_t id, Status status);
  // Asks JavaScript to stop using bdev `bdev` and answer bdevReleaseHeld(id).
  void request_release(uint64_t id, const std::string& bdev);
  // A host's controller on subsystem `subnqn` came or went.
  void post_host(const std::string& subnqn, const std::string& hostnqn, uint16_t cntlid, bool connected);
  bool closed() const { return closed_; }
  void wait(ControlRequest* request);
  // Engine stop: the open wait settles with null, pending persistence requests fail.
  void close();

 private:
  struct Item {
    nexus::NexusEvent event;
    bool persist = false;
    bool release = false;
    bool host = false;  // a host's controller: event.nexus is the subsystem NQN, detail connected|disconnected
    std::string bdev;  // release: the bdev JavaScript lets go of; host: the host NQN
    uint64_t id = 0;
    nexus::PersistInfo info;
  };
  void deliver();

  JsEngine* js_;
  std::deque<Item> queue_;
  ControlRequest* waiting_ = nullptr;
  std::map<uint64_t, std::function<void(Status)>> persisting_;
  uint64_t next_id_ = 1;
  bool closed_ = false;
};

void register_nexus_functions(Napi::Env env, Napi::Object exports);

}  // namespace nds::binding
