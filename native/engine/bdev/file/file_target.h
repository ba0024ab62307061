// What the file-backed modules (aio, uring) share: parsing `scheme:///abs/path?blk_size=
// 512|4096&name=N&uuid=U`, opening the path with O_DIRECT, finding its size and the
// smallest block O_DIRECT accepts, and the synchronous fallbacks for unmap and
// write_zeroes.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "bdev/bdev.h"
#include "util/status.h"
#include "util/uri.h"
#include "util/uuid.h"

namespace nds {

struct FileTarget {
  std::string name;  // the path unless name= was given
  std::string path;
  int fd = -1;
  bool block_device = false;
  uint32_t block_size = 512;
  uint64_t num_blocks = 0;
  Uuid uuid;
};

// Parses the URI and opens the file. ENOENT missing path; EINVAL neither a regular file
// nor a block device, a blk_size below what the device accepts, an empty file.
Status open_file_target(std::string_view text, Uri& uri, FileTarget* out);

// The current size of an open file or block device, in blocks.
Status file_size_blocks(int fd, uint32_t block_size, uint64_t* blocks);

// What the aio and uring bdevs share: the open file, its size (which may grow), closing it.
class FileBdev : public Bdev {
 public:
  explicit FileBdev(const FileTarget& t) : Bdev(t.name, t.uuid, t.block_size, t.num_blocks), fd_(t.fd) {}
  ~FileBdev() override;
  bool io_type_supported(IoType) const override { return true; }
  Status refresh_size() override;
  int fd() const { return fd_; }

 protected:
  int fd_;
};

// fallocate-based unmap (punch hole) and write_zeroes (zero range); -EOPNOTSUPP when the
// file system cannot, so the caller can write zeroes instead.
int file_punch_hole(int fd, uint64_t offset, uint64_t length);
int file_zero_range(int fd, uint64_t offset, uint64_t length);

// A 1 MiB zero-filled buffer aligned for O_DIRECT, for writing zeroes where fallocate
// cannot.
const void* direct_zero_buffer();
constexpr uint64_t kDirectZeroBufferSize = 1 << 20;

}  // namespace nds
