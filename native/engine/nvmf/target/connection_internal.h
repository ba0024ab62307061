// What connection.cc and io_commands.cc share about a connection's commands in flight.
#pragma once
#include <memory>

#include "nvmf/target/connection.h"

namespace nds::nvmf {

// A command in flight on an I/O queue.
struct Connection::Request {
  Connection* conn = nullptr;
  uint16_t index = 0;
  bool busy = false;
  bool awaiting_data = false;
  uint8_t sqe[64];
  uint16_t cid = 0;
  uint8_t opcode = 0;
  const Connection::IoCommand* command = nullptr;  // its row in the command table
  NamespaceSlot* slot = nullptr;
  uint64_t offset = 0;
  uint32_t length = 0;    // data bytes of a read, write or compare
  uint32_t received = 0;  // H2CData bytes so far
  void* buf = nullptr;
  uint32_t buf_length = 0;
  void* compare_with = nullptr;  // Compare: the host's data, while `buf` receives the media's
  uint32_t pending = 0;          // sub-I/Os still running (Dataset Management)
  int first_error = 0;
};

// A connection's view of one namespace: the entry and this thread's queue on it.
struct Connection::NamespaceSlot {
  std::shared_ptr<const NamespaceEntry> entry;
  void* queue = nullptr;
  uint32_t in_flight = 0;
  bool retired = false;
};

}  // namespace nds::nvmf
