// uring:///abs/path?blk_size=512|4096&name=N&uuid=U
// A file or block device through io_uring with O_DIRECT: one ring per thread, submissions
// batched per poller pass, flush as IORING_OP_FSYNC (datasync), unmap and write_zeroes as
// IORING_OP_FALLOCATE (punch hole / zero range, falling back to writing zeroes).
#pragma once
#include <memory>
#include <string_view>

#include "bdev/bdev.h"
#include "util/uri.h"

namespace nds {

Status uring_bdev_create(std::string_view text, Uri& uri, std::unique_ptr<Bdev>* out);

}  // namespace nds
