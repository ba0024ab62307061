// Creating bdevs from URIs: the scheme picks the module that registered it
// (bdev/bdev_module.h), and the factory registers the bdev the module makes. Every module
// rejects query parameters it does not know; the helpers below parse the shared ones.
#pragma once
#include <cstdint>
#include <functional>
#include <string_view>

#include "bdev/bdev_manager.h"
#include "util/uri.h"

namespace nds {

// App thread. On success the bdev is registered and passed to done.
void create_bdev_from_uri(BdevManager& manager, std::string_view uri, std::function<void(Status, Bdev*)> done);

// Parameters shared by the memory-sized modules (malloc, null):
// scheme:///name?size_mb=N|num_blocks=N&blk_size=512|4096&uuid=...
struct SizedBdevParams {
  std::string name;
  uint32_t block_size = 512;
  uint64_t num_blocks = 0;
  Uuid uuid;
};
Status parse_sized_bdev_uri(std::string_view text, Uri& uri, SizedBdevParams* out);

// Parameters every module shares. `where` ends the error message (" in URI '...'").
// blk_size: 512 (default) or 4096.
Status take_block_size(UriQuery& query, const std::string& where, uint32_t* out);
// uuid: a canonical UUID, or a new random one when absent.
Status take_uuid(UriQuery& query, const std::string& where, Uuid* out);

}  // namespace nds
