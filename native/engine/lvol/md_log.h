// Metadata pages and their write-ahead log. Every metadata page lives in memory; a
// transaction names the pages it changed, and its images (copied when it is submitted)
// are appended to the log in one checksummed record, flushed, and only then acknowledged.
// Concurrent transactions share a record (group commit). When the log fills, a checkpoint
// writes the committed images in place, flushes, and moves the superblock's checkpoint
// past them (alternating superblock slots), so the log can start over.
// Import reads the in-place pages and replays the records after the checkpoint.
#pragma once
#include <deque>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "lvol/disk_io.h"
#include "lvol/format.h"
#include "util/status.h"

namespace nds::lvs {

class MdLog {
 public:
  MdLog(DiskIo& io, Superblock sb) : io_(io), sb_(std::move(sb)) {}

  const Superblock& superblock() const { return sb_; }
  Superblock& superblock_for_update() { return sb_; }

  // ---- in-memory pages (app thread) ----
  size_t page_count() const { return pages_.size(); }
  const Page* page(uint64_t index) const;    // nullptr: free
  Page& writable(uint64_t index);            // allocates the image if free
  void release(uint64_t index);              // becomes a free (zero) page
  // A free metadata page, reserved at once; UINT64_MAX when the region is full.
  uint64_t reserve_page();
  size_t used_pages() const { return used_pages_; }

  // ---- transactions ----
  // Logs the current images of `pages` atomically; done(0) once durable. At most
  // kMaxLogRecordPages pages.
  void commit(std::vector<uint64_t> pages, std::function<void(int)> done);
  // Waits for every commit, then checkpoints; with `clean`, marks the superblock clean.
  void checkpoint(bool clean, std::function<void(int)> done);
  // Writes a superblock now (in the slot after the current one) and flushes.
  void write_superblock(std::function<void(int)> done);
  bool failed() const { return failed_; }

  // ---- load ----
  // Reads the metadata region and replays the log. done(status) with the pages in memory;
  // a page with our header but a bad checksum that no log record repaired is EIO.
  void load(std::function<void(Status)> done);

  // Formats: zeroes the log's first page and the metadata region, writes both superblocks.
  void format(std::function<void(Status)> done);

 private:
  struct Txn {
    std::vector<std::pair<uint64_t, Page>> images;
    std::function<void(int)> done;
  };
  void pump();
  void write_record(std::vector<Txn> group);
  void do_checkpoint(std::function<void(int)> done);
  void fail(int status);

  DiskIo& io_;
  Superblock sb_;
  std::vector<std::unique_ptr<Page>> pages_;  // index -> image (nullptr: free)
  size_t used_pages_ = 0;
  uint64_t next_free_hint_ = 0;
  std::deque<Txn> queue_;
  std::vector<std::function<void(int)>> checkpoint_waiters_;
  bool checkpoint_clean_ = false;
  bool busy_ = false;
  bool failed_ = false;
  uint64_t log_pos_ = 0;   // next free log page
  uint64_t next_seq_ = 1;  // seq of the next record
  std::unordered_map<uint64_t, Page> committed_since_checkpoint_;
};

}  // namespace nds::lvs
