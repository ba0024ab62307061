// malloc:///name?size_mb=N|num_blocks=N&blk_size=512|4096&uuid=U
// A RAM disk in DMA memory. Never-written and unmapped ranges read as zeroes.
#pragma once
#include <memory>
#include <string_view>

#include "bdev/bdev.h"
#include "env/dma_region.h"
#include "util/uri.h"

namespace nds {

Status malloc_bdev_create(DmaRegion& dma, std::string_view text, Uri& uri, std::unique_ptr<Bdev>* out);

}  // namespace nds
