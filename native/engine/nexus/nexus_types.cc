#include "nexus/nexus_types.h"

#include <cerrno>

namespace nds::nexus {

const char* nexus_state_name(NexusState s) {
  switch (s) {
    case NexusState::Online: return "Online";
    case NexusState::Degraded: return "Degraded";
    case NexusState::Faulted: return "Faulted";
    case NexusState::ShuttingDown: return "ShuttingDown";
    case NexusState::Shutdown: return "Shutdown";
  }
  return "Unknown";
}

const char* child_state_name(ChildState s) {
  switch (s) {
    case ChildState::Open: return "Open";
    case ChildState::Faulted: return "Faulted";
    case ChildState::Closed: return "Closed";
  }
  return "Unknown";
}

const char* sync_state_name(SyncState s) { return s == SyncState::Synced ? "Synced" : "OutOfSync"; }

const char* fault_reason_name(FaultReason r) {
  switch (r) {
    case FaultReason::None: return "";
    case FaultReason::IoError: return "IoError";
    case FaultReason::NoSpace: return "NoSpace";
    case FaultReason::TimedOut: return "TimedOut";
    case FaultReason::Gone: return "Gone";
    case FaultReason::RebuildFailed: return "RebuildFailed";
    case FaultReason::AdminCommand: return "AdminCommand";
    case FaultReason::OutOfSync: return "OutOfSync";
    case FaultReason::Offline: return "Offline";
  }
  return "Unknown";
}

const char* rebuild_state_name(RebuildState s) {
  switch (s) {
    case RebuildState::Init: return "Init";
    case RebuildState::Running: return "Running";
    case RebuildState::Paused: return "Paused";
    case RebuildState::Stopped: return "Stopped";
    case RebuildState::Failed: return "Failed";
    case RebuildState::Completed: return "Completed";
  }
  return "Unknown";
}

FaultReason fault_reason_for_errno(int negative_errno) {
  switch (negative_errno) {
    case -ENOSPC: return FaultReason::NoSpace;
    case -ETIMEDOUT: return FaultReason::TimedOut;
    case -ENODEV: return FaultReason::Gone;
    default: return FaultReason::IoError;
  }
}

bool fault_reason_is_recoverable(FaultReason r) {
  switch (r) {
    case FaultReason::IoError:
    case FaultReason::NoSpace:
    case FaultReason::TimedOut:
    case FaultReason::Gone:
    case FaultReason::Offline: return true;
    default: return false;
  }
}

}  // namespace nds::nexus
