#include "bdev/file/file_target.h"

#include "bdev/bdev_factory.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace nds {

static Status path_error(int err, const std::string& path) {
  if (err == ENOENT) return Status::error(-ENOENT, "file " + path + " does not exist");
  return Status::error(-err, "cannot open " + path + ": " + std::strerror(err));
}

// The smallest block O_DIRECT accepts on this file: statx's DIO alignment where the kernel
// reports it, else the device's logical block size.
static uint32_t direct_io_block(int fd, bool block_device) {
  if (block_device) {
    int logical = 0;
    if (ioctl(fd, BLKSSZGET, &logical) == 0 && logical > 0) return static_cast<uint32_t>(logical);
    return 512;
  }
  struct statx sx {};
  if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN) && sx.stx_dio_offset_align)
    return sx.stx_dio_offset_align;
  return 512;
}

Status open_file_target(std::string_view text, Uri& uri, FileTarget* out) {
  std::string where = " in URI '" + std::string(text) + "'";
  if (!uri.host.empty() || uri.path.empty())
    return Status::error(-EINVAL, "expected an absolute path (" + uri.scheme + ":///path/to/file)" + where);
  out->path = "/" + uri.path;
  Status st = take_block_size(uri.query, where, &out->block_size);
  if (!st.is_ok()) return st;
  if (!(st = take_uuid(uri.query, where, &out->uuid)).is_ok()) return st;
  auto name = uri.query.take("name");
  if (!(st = uri.query.reject_unknown(text)).is_ok()) return st;
  out->name = name ? *name : out->path;
  if (name) {
    if (!(st = validate_bdev_name(*name)).is_ok()) return Status::error(st.rc, st.message + where);
  } else if (out->name.size() > 255) {
    return Status::error(-EINVAL, "path " + out->path + " is too long to be a bdev name; give name=" + where);
  }
  struct stat sb {};
  if (stat(out->path.c_str(), &sb) != 0) return path_error(errno, out->path);
  if (!S_ISREG(sb.st_mode) && !S_ISBLK(sb.st_mode))
    return Status::error(-EINVAL, out->path + " is neither a regular file nor a block device");
  out->block_device = S_ISBLK(sb.st_mode);
  int fd = open(out->path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return path_error(errno, out->path);
  uint64_t size = static_cast<uint64_t>(sb.st_size);
  if (out->block_device && ioctl(fd, BLKGETSIZE64, &size) != 0) {
    int err = errno;
    close(fd);
    return Status::error(-err, "cannot read the size of " + out->path + ": " + std::strerror(err));
  }
  uint32_t minimum = direct_io_block(fd, out->block_device);
  if (out->block_size < minimum) {
    close(fd);
    return Status::error(-EINVAL, "blk_size " + std::to_string(out->block_size) + " is smaller than the " +
                                      std::to_string(minimum) + "-byte logical block of " + out->path);
  }
  out->num_blocks = size / out->block_size;
  if (out->num_blocks == 0) {
    close(fd);
    return Status::error(-EINVAL, out->path + " is smaller than one block (" + std::to_string(size) + " bytes)");
  }
  out->fd = fd;
  return Status::ok();
}

Status file_size_blocks(int fd, uint32_t block_size, uint64_t* blocks) {
  struct stat sb {};
  if (fstat(fd, &sb) != 0) return Status::error(-errno, std::string("fstat failed: ") + std::strerror(errno));
  uint64_t size = static_cast<uint64_t>(sb.st_size);
  if (S_ISBLK(sb.st_mode) && ioctl(fd, BLKGETSIZE64, &size) != 0)
    return Status::error(-errno, std::string("cannot read the device size: ") + std::strerror(errno));
  *blocks = size / block_size;
  return Status::ok();
}

FileBdev::~FileBdev() { close(fd_); }

Status FileBdev::refresh_size() {
  uint64_t blocks = 0;
  Status st = file_size_blocks(fd_, block_size(), &blocks);
  if (st.is_ok() && blocks > num_blocks()) set_num_blocks(blocks);  // grows only
  return st;
}

int file_punch_hole(int fd, uint64_t offset, uint64_t length) {
  if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset), static_cast<off_t>(length)) == 0)
    return 0;
  return -errno;
}

int file_zero_range(int fd, uint64_t offset, uint64_t length) {
  if (fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset), static_cast<off_t>(length)) == 0)
    return 0;
  return -errno;
}

const void* direct_zero_buffer() {
  static void* zeroes = [] {
    void* p = std::aligned_alloc(4096, kDirectZeroBufferSize);
    std::memset(p, 0, kDirectZeroBufferSize);
    return p;
  }();
  return zeroes;
}

}  // namespace nds
