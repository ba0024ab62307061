// Persistence of a nexus's child health through the hook the control layer gives. One call
// at a time; changes made while one runs are stored by the next, which all their waiters
// share. Without a hook the change counts as stored at once.
#include "nexus/nexus.h"

namespace nds::nexus {

void Nexus::persist(bool clean, std::function<void(Status)> done) {
  persist_waiting_.push_back(std::move(done));
  if (clean) next_persist_clean_ = true;
  if (!persisting_) run_persist();
}

void Nexus::run_persist() {
  auto waiters = std::make_shared<std::vector<std::function<void(Status)>>>(std::move(persist_waiting_));
  persist_waiting_.clear();
  if (waiters->empty()) return;
  PersistInfo info;
  info.name = name();
  info.uuid = uuid().to_string();
  info.clean_shutdown = next_persist_clean_;
  next_persist_clean_ = false;
  for (const auto& child : children_) info.children.push_back(PersistInfo::Child{child->uri, child->healthy()});
  if (!persist_hook_) {
    for (auto& fn : *waiters) fn(Status::ok());
    return;
  }
  persisting_ = true;
  persist_hook_(info, [this, waiters](Status st) {
    // The hook answers from another thread (JavaScript): continue on the app thread.
    app_->send([this, waiters, st] {
      persisting_ = false;
      for (auto& fn : *waiters) fn(st);
      if (!persist_waiting_.empty()) run_persist();
    });
  });
}

}  // namespace nds::nexus
