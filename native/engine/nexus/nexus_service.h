// The nexus registry of an engine (app thread): creating a nexus from child URIs, finding,
// listing and destroying nexuses, and where their events and persistence requests go.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "bdev/bdev_manager.h"
#include "nexus/nexus.h"

namespace nds::nexus {

struct NexusOptions {
  std::string name;
  Uuid uuid;
  uint64_t size_bytes = 0;  // 0: the smallest child's size
  std::vector<std::string> children;
  bool persist = false;  // call the persistence handler on health changes
  RebuildOptions rebuild;
  IoOptions io;
};

// Where persistence requests go: (nexus name, info, done).
using PersistHandler = std::function<void(const std::string&, const PersistInfo&, std::function<void(Status)>)>;

class NexusService {
 public:
  NexusService(BdevManager& manager, Thread* app) : manager_(manager), app_(app) {}

  // Any thread, before use (the binding sets them once).
  void set_event_sink(EventSink sink) { events_ = std::move(sink); }
  void set_persist_handler(PersistHandler handler) { persist_ = std::move(handler); }

  void create(const NexusOptions& options, std::function<void(Status, Nexus*)> done);
  Nexus* find(const std::string& name) const;
  std::vector<Nexus*> list() const;
  // Shuts the nexus down (persisting a clean shutdown unless it already was), removes its
  // bdev (EBUSY while something else holds it open) and closes its children.
  void destroy(const std::string& name, std::function<void(Status)> done);
  // Engine teardown: every nexus, without persisting.
  void destroy_all(std::function<void()> done);

 private:
  void open_children(std::shared_ptr<NexusOptions> options, size_t next,
                     std::shared_ptr<std::vector<std::pair<BdevDesc*, bool>>> opened,
                     std::function<void(Status, Nexus*)> done);
  void close_opened(std::shared_ptr<std::vector<std::pair<BdevDesc*, bool>>> opened, std::function<void()> done);

  BdevManager& manager_;
  Thread* app_;
  EventSink events_;
  PersistHandler persist_;
  std::map<std::string, Nexus*> nexuses_;  // the bdev registry owns them
};

}  // namespace nds::nexus
