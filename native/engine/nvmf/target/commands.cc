// The command table of the target: every admin and NVM command it serves, with the flags
// that drive validation, its handler, and its entry in the Commands Supported and Effects
// log. Adding a command is one row here and its handler (admin.cc or io_commands.cc).
#include <array>

#include "nvmf/target/connection.h"
#include "nvmf/wire/nvme_spec.h"

namespace nds::nvmf {

using namespace spec;

namespace {
constexpr uint32_t kSupported = 1;      // CSUPP
constexpr uint32_t kChangesBlocks = 2;  // LBCC: the command may change logical block content
}  // namespace

// clang-format off
const Connection::AdminCommand Connection::kAdminCommands[] = {
  {kOpGetLogPage,        kSupported, &Connection::get_log_page},
  {kOpIdentify,          kSupported, &Connection::identify},
  {kOpAbort,             kSupported, &Connection::abort_command},
  {kOpSetFeatures,       kSupported, &Connection::features},
  {kOpGetFeatures,       kSupported, &Connection::features},
  {kOpAsyncEventRequest, kSupported, &Connection::async_event_request},
  {kOpKeepAlive,         kSupported, &Connection::keep_alive},
};

const Connection::IoCommand Connection::kIoCommands[] = {
  {kOpFlush,             0,                                kSupported,                  &Connection::execute_flush},
  {kOpWrite,             kRanged | kMovesData | kFromHost, kSupported | kChangesBlocks, &Connection::execute_write},
  {kOpRead,              kRanged | kMovesData,             kSupported,                  &Connection::execute_read},
  {kOpCompare,           kRanged | kMovesData | kFromHost, kSupported,                  &Connection::execute_compare},
  {kOpWriteZeroes,       kRanged,                          kSupported | kChangesBlocks, &Connection::execute_write_zeroes},
  {kOpDatasetManagement, kRangeList,                       kSupported | kChangesBlocks, &Connection::dsm},
};
// clang-format on

namespace {
template <typename Row, size_t N>
std::array<const Row*, 256> index_by_opcode(const Row (&rows)[N]) {
  std::array<const Row*, 256> index{};
  for (const Row& row : rows) index[row.opcode] = &row;
  return index;
}
}  // namespace

const Connection::AdminCommand* Connection::admin_command(uint8_t opcode) {
  static const auto index = index_by_opcode(kAdminCommands);
  return index[opcode];
}

const Connection::IoCommand* Connection::io_command(uint8_t opcode) {
  static const auto index = index_by_opcode(kIoCommands);
  return index[opcode];
}

void Connection::fill_effects_log(uint8_t* log, bool with_io_commands) {
  for (const AdminCommand& c : kAdminCommands) put32(log + 4 * c.opcode, c.effects);
  if (!with_io_commands) return;
  for (const IoCommand& c : kIoCommands) put32(log + 1024 + 4 * c.opcode, c.effects);
}

}  // namespace nds::nvmf
