// One child of a nexus: the bdev it names (opened, claimed, and owned when the nexus
// created it from the URI), its state, and its log of missed writes. App thread only,
// except the log, which channels mark from any thread.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "bdev/bdev_manager.h"
#include "nexus/nexus_types.h"
#include "nexus/segment_log.h"

namespace nds::nexus {

class RebuildJob;

struct NexusChild {
  uint32_t id = 0;
  std::string uri;
  std::string bdev_name;
  BdevDesc* desc = nullptr;
  bool owned = false;  // created from its URI by the nexus: destroyed with the child
  ChildState state = ChildState::Open;
  FaultReason reason = FaultReason::None;
  SyncState sync = SyncState::Synced;
  bool receiving_writes = false;  // out of sync but written to: being rebuilt
  bool needs_full_rebuild = false;  // the log cannot say what the child missed
  std::unique_ptr<SegmentLog> log;
  std::unique_ptr<RebuildJob> rebuild;
  bool stop_requested = false;  // stopRebuild was called on the running job
  bool reconnecting = false;    // onlineChild is replacing its gone bdev (desc is nullptr meanwhile)

  bool healthy() const { return state == ChildState::Open && sync == SyncState::Synced; }
  bool writable() const { return state == ChildState::Open && (sync == SyncState::Synced || receiving_writes); }
  bool gone() const { return desc && desc->bdev->gone(); }
};

// Opens the bdev a child URI names: `bdev:///name` an existing bdev, anything else a bdev
// created from the URI (owned). Claims it for `claimer` with its descriptor as the only
// writer. done runs on the app thread.
void open_child_bdev(BdevManager& manager, const std::string& uri, const std::string& claimer,
                     std::function<void(Status, BdevDesc*, bool owned)> done);
// Releases the claim, closes the descriptor and destroys an owned bdev.
void close_child_bdev(BdevManager& manager, BdevDesc* desc, bool owned, std::function<void()> done);

}  // namespace nds::nexus
