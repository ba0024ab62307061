#include "lvol/md_log.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "util/async_loop.h"
#include "util/crc32c.h"

namespace nds::lvs {

const Page* MdLog::page(uint64_t index) const { return index < pages_.size() ? pages_[index].get() : nullptr; }

Page& MdLog::writable(uint64_t index) {
  if (!pages_[index]) {
    pages_[index] = std::make_unique<Page>();
    pages_[index]->fill(0);
    ++used_pages_;
  }
  return *pages_[index];
}

void MdLog::release(uint64_t index) {
  if (!pages_[index]) return;
  pages_[index].reset();
  --used_pages_;
  next_free_hint_ = std::min(next_free_hint_, index);
}

uint64_t MdLog::reserve_page() {
  for (uint64_t i = next_free_hint_; i < pages_.size(); ++i) {
    if (!pages_[i]) {
      writable(i);
      next_free_hint_ = i + 1;
      return i;
    }
  }
  return UINT64_MAX;
}

void MdLog::fail(int status) {
  failed_ = true;
  auto queued = std::move(queue_);
  for (auto& txn : queued) txn.done(status);
  auto waiters = std::move(checkpoint_waiters_);
  for (auto& w : waiters) w(status);
}

void MdLog::commit(std::vector<uint64_t> pages, std::function<void(int)> done) {
  if (failed_) return done(-EIO);
  Txn txn;
  std::sort(pages.begin(), pages.end());
  pages.erase(std::unique(pages.begin(), pages.end()), pages.end());
  if (pages.empty()) return done(0);
  if (pages.size() > kMaxLogRecordPages) return done(-E2BIG);
  // The images are taken now: later transactions may change these pages in memory before
  // this one reaches the disk, and their changes must not ride along in our record.
  for (uint64_t index : pages) {
    Page image{};
    if (const Page* p = page(index)) image = *p;
    txn.images.emplace_back(index, image);
  }
  txn.done = std::move(done);
  queue_.push_back(std::move(txn));
  pump();
}

void MdLog::checkpoint(bool clean, std::function<void(int)> done) {
  if (failed_) return done(-EIO);
  checkpoint_clean_ = checkpoint_clean_ || clean;
  checkpoint_waiters_.push_back(std::move(done));
  pump();
}

void MdLog::pump() {
  if (busy_ || failed_) return;
  if (!queue_.empty()) {
    std::vector<Txn> group;
    std::map<uint64_t, bool> distinct;
    while (!queue_.empty()) {
      size_t added = 0;
      for (auto& [index, image] : queue_.front().images) added += distinct.count(index) ? 0 : 1;
      if (!group.empty() && distinct.size() + added > kMaxLogRecordPages) break;
      for (auto& [index, image] : queue_.front().images) distinct[index] = true;
      group.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    busy_ = true;
    return write_record(std::move(group));
  }
  if (!checkpoint_waiters_.empty()) {
    busy_ = true;
    auto waiters = std::move(checkpoint_waiters_);
    do_checkpoint([this, waiters = std::move(waiters)](int rc) {
      busy_ = false;
      checkpoint_clean_ = false;
      if (rc != 0) fail(rc);
      for (auto& w : waiters) w(rc);
      pump();
    });
  }
}

void MdLog::write_record(std::vector<Txn> group) {
  std::map<uint64_t, const Page*> images;  // the latest image of each page wins
  for (auto& txn : group)
    for (auto& [index, image] : txn.images) images[index] = &image;
  const uint64_t n = images.size();
  if (log_pos_ + 1 + n > sb_.log_pages) {
    // Out of log: make everything committed so far durable in place, then start over.
    auto shared = std::make_shared<std::vector<Txn>>(std::move(group));
    return do_checkpoint([this, shared](int rc) {
      if (rc != 0) {
        busy_ = false;
        for (auto& txn : *shared) txn.done(rc);
        return fail(rc);
      }
      write_record(std::move(*shared));
    });
  }
  auto buf = io_.buffer((1 + n) * kPageSize);
  if (!buf) {
    busy_ = false;
    for (auto& txn : group) txn.done(-ENOMEM);
    return pump();
  }
  LogHeader header;
  header.seq = next_seq_;
  header.pool = sb_.uuid;
  uint32_t crc = 0;
  size_t slot = 1;
  for (auto& [index, image] : images) {
    header.pages.push_back(static_cast<uint32_t>(index));
    std::memcpy(buf.get() + slot++ * kPageSize, image->data(), kPageSize);
    crc = crc32c(image->data(), kPageSize, crc);
  }
  header.images_crc = crc;
  Page header_page;
  header.encode(header_page);
  std::memcpy(buf.get(), header_page.data(), kPageSize);
  auto shared = std::make_shared<std::vector<Txn>>(std::move(group));
  uint64_t offset = (sb_.log_start + log_pos_) * kPageSize;
  io_.submit(IoType::Write, offset, (1 + n) * kPageSize, buf.get(), [this, buf, shared, n](int rc) {
    auto finish = [this, shared, n](int status) {
      if (status == 0) {
        log_pos_ += 1 + n;
        ++next_seq_;
        for (auto& txn : *shared)
          for (auto& [index, image] : txn.images) committed_since_checkpoint_[index] = image;
      }
      busy_ = false;
      for (auto& txn : *shared) txn.done(status);
      if (status != 0) return fail(status);
      pump();
    };
    if (rc != 0) return finish(rc);
    io_.flush(finish);
  });
}

void MdLog::write_superblock(std::function<void(int)> done) {
  ++sb_.generation;
  auto buf = io_.buffer(kPageSize);
  if (!buf) return done(-ENOMEM);
  Page p;
  sb_.encode(p);
  std::memcpy(buf.get(), p.data(), kPageSize);
  // Alternate slots: a torn superblock write leaves the other, older one intact.
  uint64_t slot = sb_.generation % 2;
  io_.submit(IoType::Write, slot * kPageSize, kPageSize, buf.get(), [this, buf, done = std::move(done)](int rc) {
    if (rc != 0) return done(rc);
    io_.flush(done);
  });
}

void MdLog::do_checkpoint(std::function<void(int)> done) {
  auto pending = std::make_shared<std::vector<std::pair<uint64_t, Page>>>(committed_since_checkpoint_.begin(),
                                                                          committed_since_checkpoint_.end());
  auto after_pages = [this, done = std::move(done)](int rc) {
    if (rc != 0) return done(rc);
    sb_.checkpoint_seq = next_seq_ - 1;
    sb_.clean = checkpoint_clean_ && queue_.empty();
    write_superblock([this, done](int status) {
      if (status == 0) {
        log_pos_ = 0;
        committed_since_checkpoint_.clear();
      }
      done(status);
    });
  };
  if (pending->empty()) return after_pages(0);
  auto buf = io_.buffer(pending->size() * kPageSize);
  if (!buf) return after_pages(-ENOMEM);
  struct Count {
    size_t left;
    int status = 0;
  };
  auto count = std::make_shared<Count>(Count{pending->size()});
  auto finish = std::make_shared<std::function<void(int)>>(std::move(after_pages));
  for (size_t i = 0; i < pending->size(); ++i) {
    auto& [index, image] = (*pending)[i];
    std::memcpy(buf.get() + i * kPageSize, image.data(), kPageSize);
    io_.submit(IoType::Write, (sb_.md_start + index) * kPageSize, kPageSize, buf.get() + i * kPageSize,
               [this, buf, count, finish, pending](int rc) {
                 if (rc != 0) count->status = rc;
                 if (--count->left > 0) return;
                 if (count->status != 0) return (*finish)(count->status);
                 io_.flush(*finish);
               });
  }
}

void MdLog::format(std::function<void(Status)> done) {
  // Zero the metadata region and the whole log (write_zeroes: cheap on files), then both
  // superblock slots. Zeroing the whole log, not just its first page, matters on a sparse
  // file: it reserves the log's blocks now, so that a later log append never needs new
  // space from the file system, and a full file system cannot stop the log.
  struct Step {
    uint64_t offset, length;
  };
  auto steps = std::make_shared<std::vector<Step>>(std::vector<Step>{
      {sb_.md_start * kPageSize, sb_.md_pages * kPageSize},
      {sb_.log_start * kPageSize, sb_.log_pages * kPageSize},
      {sb_.bitmap_start * kPageSize, sb_.bitmap_pages * kPageSize},
  });
  async_loop([this, steps, i = size_t{0}, done = std::move(done)](const auto& next) mutable {
    if (i == steps->size()) {
      pages_.clear();
      pages_.resize(sb_.md_pages);
      return write_superblock([this, done](int rc) {
        if (rc != 0) return done(Status::error(rc, "cannot write the superblock"));
        write_superblock([done](int rc2) {
          done(rc2 == 0 ? Status::ok() : Status::error(rc2, "cannot write the superblock"));
        });
      });
    }
    const Step step = (*steps)[i++];
    io_.submit(IoType::WriteZeroes, step.offset, step.length, nullptr, [next, done](int rc) {
      if (rc != 0) return done(Status::error(rc, "cannot zero the metadata region"));
      next();
    });
  });
}

void MdLog::load(std::function<void(Status)> done) {
  pages_.clear();
  pages_.resize(sb_.md_pages);
  used_pages_ = 0;
  static constexpr uint64_t kChunk = 256;  // pages per read
  auto buf = io_.buffer(kChunk * kPageSize);
  if (!buf) return done(Status::error(-ENOMEM, "no DMA memory to load the pool"));
  auto done_ptr = std::make_shared<std::function<void(Status)>>(std::move(done));

  auto verify = [this, done_ptr] {
    for (uint64_t i = 0; i < pages_.size(); ++i) {
      if (!pages_[i]) continue;
      if (!page_type(*pages_[i], i))
        return (*done_ptr)(Status::error(-EIO, "metadata page " + std::to_string(i) + " (disk offset " +
                                                   std::to_string((sb_.md_start + i) * kPageSize) +
                                                   ") is damaged: bad checksum or header"));
    }
    (*done_ptr)(Status::ok());
  };

  // Replay: records at log positions 0, 1+n0, ... with consecutive seqs after the checkpoint.
  auto replay = [this, buf, verify, done_ptr](const auto& next) {
    if (log_pos_ + 1 > sb_.log_pages) {
      return verify();
    }
    io_.submit(IoType::Read, (sb_.log_start + log_pos_) * kPageSize, kPageSize, buf.get(),
               [this, buf, next, verify, done_ptr](int rc) {
                 if (rc != 0) return (*done_ptr)(Status::error(rc, "cannot read the metadata log"));
                 Page header_page;
                 std::memcpy(header_page.data(), buf.get(), kPageSize);
                 LogHeader header;
                 if (!LogHeader::decode(header_page, &header) || header.seq != next_seq_ || !(header.pool == sb_.uuid) ||
                     log_pos_ + 1 + header.pages.size() > sb_.log_pages) {
                   return verify();  // the end of the log
                 }
                 auto images = io_.buffer(header.pages.size() * kPageSize);
                 if (!images) return (*done_ptr)(Status::error(-ENOMEM, "no DMA memory to replay the log"));
                 io_.submit(IoType::Read, (sb_.log_start + log_pos_ + 1) * kPageSize, header.pages.size() * kPageSize,
                            images.get(), [this, images, header, next, verify, done_ptr](int rc2) {
                              if (rc2 != 0) return (*done_ptr)(Status::error(rc2, "cannot read the metadata log"));
                              if (crc32c(images.get(), header.pages.size() * kPageSize) != header.images_crc) {
                                return verify();
                              }
                              for (size_t i = 0; i < header.pages.size(); ++i) {
                                uint64_t index = header.pages[i];
                                if (index >= pages_.size()) continue;
                                Page image;
                                std::memcpy(image.data(), images.get() + i * kPageSize, kPageSize);
                                if (is_zero(image)) {
                                  release(index);
                                } else {
                                  writable(index) = image;
                                }
                                committed_since_checkpoint_[index] = image;
                              }
                              log_pos_ += 1 + header.pages.size();
                              ++next_seq_;
                              next();
                            });
               });
  };

  // The metadata region in chunks, then the log replay over it.
  async_loop([this, buf, replay, done_ptr, first = uint64_t{0}](const auto& next) mutable {
    if (first >= sb_.md_pages) {
      log_pos_ = 0;
      next_seq_ = sb_.checkpoint_seq + 1;
      return async_loop(replay);
    }
    uint64_t count = std::min(kChunk, sb_.md_pages - first);
    uint64_t at = first;
    first += count;
    io_.submit(IoType::Read, (sb_.md_start + at) * kPageSize, count * kPageSize, buf.get(),
               [this, buf, next, at, count, done_ptr](int rc) {
                 if (rc != 0) return (*done_ptr)(Status::error(rc, "cannot read the metadata region"));
                 for (uint64_t i = 0; i < count; ++i) {
                   Page image;
                   std::memcpy(image.data(), buf.get() + i * kPageSize, kPageSize);
                   if (!is_zero(image)) writable(at + i) = image;
                 }
                 next();
               });
  });
}

}  // namespace nds::lvs
