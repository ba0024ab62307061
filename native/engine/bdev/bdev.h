// Block devices. A Bdev is a module's device (malloc, null, aio, uring, error, nvmf, and
// the lvol and nexus bdevs their own layers make) behind one interface: the module
// subclasses Bdev and implements submit() and friends, the way SPDK modules fill a
// function table.
//
// A new module with a URI scheme is a folder and a registration:
//   1. bdev/<name>/<name>_bdev.{h,cc}: a Bdev subclass (module_name() returns the scheme;
//      io_type_supported, submit, and create_channel for per-thread state; destruct if it
//      holds anything; abort_all if it can take I/O back; gone/health if it can vanish).
//   2. A create function that parses the URI (take_block_size, take_uuid, then
//      reject_unknown: unknown parameters are errors) and makes the bdev.
//   3. NDS_BDEV_MODULE_REGISTER(BdevModule{"<scheme>", create_sync<fn>}) in its .cc
//      (bdev/bdev_module.h); a `control` function too if it has commands of its own.
//   4. Its URI in test/bdev_conformance_test.cc (the test fails for a scheme without one),
//      and its parameters in the README's URI table.
//
// Threading: a bdev is owned by the app thread (registration, descriptors, claims,
// removal). I/O runs on any lightweight thread through that thread's channel, and
// completes on the same thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bdev/iostat.h"
#include "util/status.h"
#include "util/uuid.h"

namespace nds {

class Bdev;
class Thread;
struct BdevChannel;
struct Poller;

// A device's own state, for callers that show or act on it (the nexus's error messages,
// the binding's bdevHealth).
struct BdevHealth {
  enum State { Online, Reconnecting, Gone };
  State state = Online;
  std::string reason;  // why it is reconnecting or gone; empty when online

  static const char* name(State state);
  std::string describe() const { return reason.empty() ? name(state) : std::string(name(state)) + ": " + reason; }
};
struct IoChannel;

struct BdevDesc;

// I/O completion: status is 0 or a negative errno.
using BdevIoCb = void (*)(int status, void* cb_arg);

struct BdevIo {
  Bdev* bdev = nullptr;
  BdevChannel* channel = nullptr;
  IoType type = IoType::Read;
  uint64_t offset_blocks = 0;
  uint64_t num_blocks = 0;
  void* buf = nullptr;  // read and write only; num_blocks * block_size bytes
  BdevIoCb cb = nullptr;
  void* cb_arg = nullptr;
  uint64_t start_ns = 0;
  int status = 0;
  alignas(16) uint8_t module_ctx[64];  // scratch space for the module while in flight
};

// Per-thread state a module keeps for a bdev (queues, rings, sockets).
class ModuleChannel {
 public:
  virtual ~ModuleChannel() = default;
};

class Bdev {
 public:
  Bdev(std::string name, Uuid uuid, uint32_t block_size, uint64_t num_blocks);
  virtual ~Bdev();
  Bdev(const Bdev&) = delete;
  Bdev& operator=(const Bdev&) = delete;

  // ---- module interface ----
  virtual const char* module_name() const = 0;
  virtual bool io_type_supported(IoType type) const = 0;
  // Runs on the thread that first does I/O on the bdev; may return nullptr.
  virtual std::unique_ptr<ModuleChannel> create_channel() { return nullptr; }
  // Starts the I/O; the module calls bdev_io_complete exactly once, from this thread,
  // possibly before submit returns.
  virtual void submit(ModuleChannel* channel, BdevIo* io) = 0;
  // The channel's thread: ends every I/O this channel holds that the module can still take
  // back (queued, delayed, cancellable) with `status`; the rest complete as they would. A
  // caller that gave up on a device (a nexus child past its I/O timeout) uses it so those
  // I/Os stop holding their buffers. Most modules hold nothing they can take back.
  virtual void abort_all(ModuleChannel* channel, int status) {
    (void)channel;
    (void)status;
  }
  // App thread, after removal, once no channel is left: release resources, then done().
  virtual void destruct(std::function<void()> done) { done(); }
  // App thread: re-reads the size of a device that can grow (files, block devices).
  virtual Status refresh_size() { return Status::ok(); }
  // App thread: the same for a device whose size is asked for over the wire (a remote
  // namespace); done runs on the app thread.
  virtual void refresh_size_async(std::function<void(Status)> done) { done(refresh_size()); }
  // Any thread: the device vanished for good (a remote controller lost past its timeout);
  // every I/O fails with ENODEV. health() says more: reconnecting or gone, and why.
  virtual bool gone() const { return false; }
  virtual BdevHealth health() const { return {gone() ? BdevHealth::Gone : BdevHealth::Online, ""}; }

  // ---- properties ----
  const std::string& name() const { return name_; }
  const Uuid& uuid() const { return uuid_; }
  uint32_t block_size() const { return block_size_; }
  // log2(block size): every module's block size is a power of two (checked at creation).
  uint32_t block_shift() const { return block_shift_; }
  uint64_t num_blocks() const { return num_blocks_.load(std::memory_order_relaxed); }
  uint64_t size_bytes() const { return static_cast<uint64_t>(block_size_) * num_blocks(); }

  // Who claimed the bdev ("" when unclaimed) and which module's object it belongs to (""
  // when it stands alone, as createBdev makes it): app thread.
  const std::string& claimed_by() const { return claimed_by_; }
  const std::string& belongs_to() const { return belongs_to_; }

  // The only descriptor allowed to change the bdev while a claim names one (any thread).
  const BdevDesc* exclusive_writer() const { return exclusive_writer_.load(std::memory_order_relaxed); }

  // ---- statistics (any thread) ----
  IoStatSnapshot stats() const;
  // stats() without the latency histograms (about 30 KiB less to copy per bdev).
  IoCountsByType counts() const;
  void reset_stats();

 protected:
  // Modules whose devices change size (lvol resize), on the app thread while no I/O runs.
  void set_num_blocks(uint64_t blocks) { num_blocks_.store(blocks, std::memory_order_relaxed); }

 private:
  friend class BdevManager;
  friend int bdev_channel_create(void*, void*);
  friend void bdev_channel_destroy(void*, void*);

  std::string name_;
  Uuid uuid_;
  uint32_t block_size_;
  uint32_t block_shift_;
  std::atomic<uint64_t> num_blocks_;

  // App thread only.
  std::string claimed_by_;
  // Set by a module whose objects are bdevs (an lvol store's lvols): only that module
  // removes the bdev (BdevManager::remove_owned), yet any one consumer may still claim it.
  std::string belongs_to_;
  std::string destroy_hint_;  // how to destroy it instead ("lvol.destroy()")
  std::atomic<const BdevDesc*> exclusive_writer_{nullptr};  // set with the claim, read per write
  size_t open_descs_ = 0;
  bool removing_ = false;
  std::function<void()> on_last_close_;

  mutable std::mutex stats_mutex_;
  std::vector<const IoStat*> live_stats_;
  IoStatSnapshot retired_stats_;
  IoStatSnapshot baseline_;
};

// An open handle on a bdev (app thread). Writers need a write descriptor.
struct BdevDesc {
  Bdev* bdev;
  bool write;
};

// Per-thread bdev state: the module channel, statistics and a cache of I/O objects.
struct BdevChannel {
  Bdev* bdev;
  Thread* thread;  // the channel's owner: every I/O on it runs there
  std::unique_ptr<ModuleChannel> module;
  IoStat stat;
  std::vector<BdevIo*> io_cache;
  uint64_t in_flight = 0;
  uint32_t submit_depth = 0;  // > 0 while inside a module's submit()
  // I/Os a module gave back with bdev_io_retry_later, resubmitted in order.
  std::deque<BdevIo*> retry_queue;
  Poller* retry_poller = nullptr;
};

// ---- I/O (any lightweight thread) ----

// This thread's channel for the bdev of `desc`; nullptr if the bdev is being removed.
IoChannel* bdev_get_io_channel(BdevDesc* desc);
void bdev_put_io_channel(IoChannel* channel);

// Submits an I/O. Offsets and lengths are in bytes and must be block multiples inside the
// bdev. Returns 0 (cb will run later, on this thread) or a negative errno (cb will not):
// -EINVAL misaligned or out of range, -EPERM a write through a read-only descriptor or on a
// bdev claimed for another writer, -ENOTSUP an I/O type the module lacks, -ENOMEM no I/O
// object.
int bdev_submit(BdevDesc* desc, IoChannel* channel, IoType type, uint64_t offset_bytes, uint64_t length_bytes,
                void* buf, BdevIoCb cb, void* cb_arg);

// For a module that is out of a resource it gets back (queue slots, buffers): instead of
// completing `io`, hand it back; the bdev layer submits it to the module again, in order,
// when another I/O on the channel completes or within 100 us. The caller sees only a
// later completion. bdev_abort_all ends queued I/Os with its status.
void bdev_io_retry_later(BdevIo* io);

// bdev_submit with the completion as a closure, run with the status whether the I/O was
// submitted or refused. Allocates: for management paths (metadata, protocol glue), not for
// the per-I/O hot path.
void bdev_submit_closure(BdevDesc* desc, IoChannel* channel, IoType type, uint64_t offset_bytes, uint64_t length_bytes,
                         void* buf, std::function<void(int)> done);

// Asks the module to end the I/Os it holds on this thread's channel with `status` (see
// Bdev::abort_all). Their callbacks run after the caller's current one, never inside.
void bdev_abort_all(IoChannel* channel, int status);

// Modules: finish an I/O with 0 or a negative errno.
void bdev_io_complete(BdevIo* io, int status);

}  // namespace nds
