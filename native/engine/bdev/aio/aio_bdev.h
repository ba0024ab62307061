// aio:///abs/path?blk_size=512|4096&name=N&uuid=U
// A file or block device through Linux AIO (libaio) with O_DIRECT: one context per
// thread, submissions batched per poller pass, flush as IOCB_CMD_FDSYNC. Linux AIO has no
// fallocate, so unmap and write_zeroes run synchronously on the reactor (fallocate is
// quick on files; the zeroes fallback writes up to 1 MiB per call).
#pragma once
#include <memory>
#include <string_view>

#include "bdev/bdev.h"
#include "util/uri.h"

namespace nds {

Status aio_bdev_create(std::string_view text, Uri& uri, std::unique_ptr<Bdev>* out);

}  // namespace nds
