// null:///name?size_mb=N|num_blocks=N&blk_size=512|4096&uuid=U
// Discards writes; reads return zeroes (so read-back can be verified). For measuring the
// engine's own overhead.
#pragma once
#include <memory>
#include <string_view>

#include "bdev/bdev.h"
#include "util/uri.h"

namespace nds {

Status null_bdev_create(std::string_view text, Uri& uri, std::unique_ptr<Bdev>* out);

}  // namespace nds
