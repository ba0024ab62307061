// The nexus's vocabulary: states of the nexus, its children and rebuild jobs, in the words
// Mayastor uses, and the plain-data pictures of them that leave the app thread (status
// snapshots, events, what the persistence hook receives).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nds::nexus {

enum class NexusState : uint8_t { Online, Degraded, Faulted, ShuttingDown, Shutdown };
enum class ChildState : uint8_t { Open, Faulted, Closed };
enum class SyncState : uint8_t { Synced, OutOfSync };
// Why a child is faulted. Recoverable reasons keep a log of what the child missed, so
// bringing it back copies only that (a partial rebuild).
enum class FaultReason : uint8_t { None, IoError, NoSpace, TimedOut, Gone, RebuildFailed, AdminCommand, OutOfSync, Offline };
enum class RebuildState : uint8_t { Init, Running, Paused, Stopped, Failed, Completed };

const char* nexus_state_name(NexusState s);
const char* child_state_name(ChildState s);
const char* sync_state_name(SyncState s);
const char* fault_reason_name(FaultReason r);
const char* rebuild_state_name(RebuildState s);

// The reason a failed child I/O faults its child with.
FaultReason fault_reason_for_errno(int negative_errno);
// Whether the child's log of missed writes stays trustworthy for a partial rebuild.
bool fault_reason_is_recoverable(FaultReason r);

struct RebuildStats {
  std::string child_uri;
  RebuildState state = RebuildState::Init;
  bool partial = false;
  uint64_t bytes_total = 0;
  uint64_t bytes_rebuilt = 0;
  uint64_t segments_total = 0;
  uint64_t segments_done = 0;
  uint64_t started_at_ms = 0;  // wall clock, ms since the epoch
  uint64_t ended_at_ms = 0;    // 0 while running
  double bytes_per_sec = 0;
  std::string source_uri;
  std::string error;  // why it failed, when it did
};

struct ChildInfo {
  std::string uri;
  std::string bdev_name;
  ChildState state = ChildState::Open;
  FaultReason reason = FaultReason::None;
  SyncState sync = SyncState::Synced;
  bool rebuilding = false;
  RebuildStats rebuild;  // valid when rebuilding
};

struct NexusInfo {
  std::string name;
  std::string uuid;
  uint64_t size_bytes = 0;
  uint32_t block_size = 0;
  NexusState state = NexusState::Online;
  std::vector<ChildInfo> children;
  std::vector<RebuildStats> history;  // ended rebuilds, oldest first
};

// What the persistence hook stores: enough for a restarted nexus to know which children
// hold current data.
struct PersistInfo {
  std::string name;
  std::string uuid;
  bool clean_shutdown = false;
  struct Child {
    std::string uri;
    bool healthy;
  };
  std::vector<Child> children;
};

enum class EventKind : uint8_t { Child, State, Rebuild };

struct NexusEvent {
  EventKind kind;
  std::string nexus;
  std::string child_uri;  // Child and Rebuild events
  std::string detail;     // new state words: "Faulted:IoError", "Degraded", "Completed"
};

}  // namespace nds::nexus
