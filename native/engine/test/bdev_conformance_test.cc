// One conformance suite for every bdev module that registers a URI scheme: the I/O types
// it says it supports complete (and written data reads back where the module stores
// data), the ones it does not are ENOTSUP, I/O outside the device or off the block size is
// EINVAL, a second claim is EBUSY and so is removing a claimed bdev, abort_all on an idle
// channel is harmless, and removal while I/O is in flight waits for that I/O. A module
// added later is covered by adding its URI below; the test fails if a registered scheme
// has no case.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <set>
#include <vector>

#include "bdev/bdev_factory.h"
#include "bdev/bdev_module.h"
#include "engine.h"
#include "nvmf/target/target_service.h"
#include "test/run_on.h"
#include "test/testing.h"

using namespace nds;
using nds::testing::run_on;

namespace {

constexpr uint32_t kBlock = 4096;
constexpr const char* kNqn = "nqn.2026-12.io.nodestor:conformance";

std::string temp_file(uint64_t size) {
  char path[] = "/tmp/nds-conformance-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(size)) != 0) std::perror("temp file");
  if (fd >= 0) close(fd);
  return path;
}

// 4 KiB-aligned memory, freed with the buffer.
class AlignedBuffer {
 public:
  explicit AlignedBuffer(size_t size) : size_(size), bytes_(static_cast<uint8_t*>(std::aligned_alloc(kBlock, size))) {}
  ~AlignedBuffer() { std::free(bytes_); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  uint8_t* data() { return bytes_; }
  size_t size() const { return size_; }
  uint8_t& operator[](size_t i) { return bytes_[i]; }

 private:
  size_t size_;
  uint8_t* bytes_;
};

struct Case {
  std::string scheme;
  std::string uri;
  bool stores_data;  // null discards writes
};

using testing::create_bdev;
using testing::remove_bdev;

// Many writes in flight on a worker, then the bdev's removal asked for at once: every
// write must complete (with a status) and the removal only after them.
struct InFlight {
  IoChannel* channel = nullptr;  // worker thread: put back with the last completion
  int expected = 0;
  std::atomic<int> completed{0};
  std::atomic<bool> removed{false};
  std::atomic<int> completed_after_removal{0};
};

void check_module(Engine& engine, const Case& c) {
  std::printf("  module %s\n", c.scheme.c_str());
  ASSERT_TRUE(create_bdev(engine, c.uri).is_ok());
  const std::string name = "c_" + c.scheme;
  Bdev* bdev = nullptr;
  run_on(engine.app_thread(), [&] { bdev = engine.bdevs().find(name); });
  ASSERT_TRUE(bdev != nullptr);
  EXPECT_EQ(std::string(bdev->module_name()), c.scheme);
  EXPECT_EQ(bdev->block_size(), kBlock);
  const uint64_t size = bdev->size_bytes();

  // I/O types: supported ones complete, the rest are refused up front. Buffers are DMA
  // memory, as the file modules' O_DIRECT needs.
  AlignedBuffer out(kBlock * 2), in(kBlock * 2);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(i * 7 + c.scheme.size());
  for (IoType type : {IoType::Write, IoType::Read, IoType::Flush, IoType::Unmap, IoType::WriteZeroes, IoType::Reset}) {
    bool supported = bdev->io_type_supported(type);
    void* buf = type == IoType::Write ? out.data() : type == IoType::Read ? in.data() : nullptr;
    uint64_t length = type == IoType::Flush || type == IoType::Reset ? 0 : out.size();
    if (type == IoType::Flush || type == IoType::Reset) length = size;
    int rc = testing::run_io(engine, name, type, 0, length, buf);
    EXPECT_EQ(rc, supported ? 0 : -ENOTSUP);
    if (type == IoType::Read && supported && c.stores_data) EXPECT_TRUE(std::memcmp(in.data(), out.data(), out.size()) == 0);
  }
  // Ranges and alignment.
  EXPECT_EQ(testing::run_io(engine, name, IoType::Read, size, kBlock, in.data()), -EINVAL);
  EXPECT_EQ(testing::run_io(engine, name, IoType::Read, size - kBlock, 2 * kBlock, in.data()), -EINVAL);
  EXPECT_EQ(testing::run_io(engine, name, IoType::Read, 512, kBlock, in.data()), -EINVAL);
  EXPECT_EQ(testing::run_io(engine, name, IoType::Write, 0, kBlock + 512, out.data()), -EINVAL);
  EXPECT_EQ(testing::run_io(engine, name, IoType::Read, size - kBlock, kBlock, in.data()), 0);

  // Claims: one at a time, and a claimed bdev is not removed.
  Status claimed, again, removal;
  run_on(engine.app_thread(), [&] {
    claimed = engine.bdevs().claim(bdev, "conformance");
    again = engine.bdevs().claim(bdev, "another");
  });
  EXPECT_TRUE(claimed.is_ok());
  EXPECT_EQ(again.rc, -EBUSY);
  removal = remove_bdev(engine, name);
  EXPECT_EQ(removal.rc, -EBUSY);
  run_on(engine.app_thread(), [&] { engine.bdevs().release_claim(bdev); });

  // abort_all with nothing to take back ends nothing and breaks nothing.
  BdevDesc* desc = nullptr;
  run_on(engine.app_thread(), [&] { engine.bdevs().open(name, true, &desc); });
  ASSERT_TRUE(desc != nullptr);
  run_on(engine.worker(0), [&] {
    IoChannel* ch = bdev_get_io_channel(desc);
    bdev_abort_all(ch, -ECANCELED);
    bdev_put_io_channel(ch);
  });
  EXPECT_EQ(testing::run_io(engine, name, IoType::Read, 0, kBlock, in.data()), 0);

  // Removal with I/O in flight: asked for while 64 writes are out; they all complete, and
  // the removal completes after them.
  constexpr int kWrites = 64;
  InFlight state;
  AlignedBuffer data(kBlock * kWrites);
  std::memset(data.data(), 0x5a, data.size());
  std::promise<void> submitted;
  state.expected = kWrites;
  run_on(engine.worker(0), [&] {
    state.channel = bdev_get_io_channel(desc);
    // Counted as one more until every write is out, so no completion puts the channel early.
    state.completed.fetch_sub(1);
    auto finished = [](InFlight* s) {
      if (s->removed.load()) s->completed_after_removal.fetch_add(1);
      if (s->completed.fetch_add(1) + 1 == s->expected) bdev_put_io_channel(s->channel);
    };
    for (int i = 0; i < kWrites; ++i) {
      int rc = bdev_submit(desc, state.channel, IoType::Write, static_cast<uint64_t>(i) * kBlock, kBlock,
                           data.data() + i * kBlock, [](int, void* arg) {
                             auto* s = static_cast<InFlight*>(arg);
                             if (s->removed.load()) s->completed_after_removal.fetch_add(1);
                             if (s->completed.fetch_add(1) + 1 == s->expected) bdev_put_io_channel(s->channel);
                           },
                           &state);
      if (rc != 0) finished(&state);
    }
    finished(&state);  // the extra count
    state.completed_after_removal.store(0);
    submitted.set_value();
  });
  submitted.get_future().wait();
  std::promise<Status> removed;
  run_on(engine.app_thread(), [&] {
    engine.bdevs().close(desc);
    engine.bdevs().remove(name, [&](Status st) {
      state.removed.store(true);
      removed.set_value(st);
    });
  });
  EXPECT_TRUE(removed.get_future().get().is_ok());
  EXPECT_EQ(state.completed.load(), kWrites);
  EXPECT_EQ(state.completed_after_removal.load(), 0);
}

}  // namespace

NDS_TEST(every_bdev_module_passes_the_conformance_suite) {
  std::unique_ptr<Engine> engine = testing::start_test_engine(96ull << 20);
  ASSERT_TRUE(engine != nullptr);
  // The nvmf case connects to this engine's own target, serving a malloc bdev.
  ASSERT_TRUE(create_bdev(*engine, "malloc:///served?size_mb=8&blk_size=4096").is_ok());
  ASSERT_TRUE(create_bdev(*engine, "malloc:///base?size_mb=8&blk_size=4096").is_ok());
  nvmf::ListenerAddress via{"127.0.0.1", 0};
  Status st;
  run_on(engine->app_thread(), [&] {
    nvmf::SubsystemOptions sub;
    sub.nqn = kNqn;
    sub.allow_any_host = true;
    st = engine->nvmf().create_subsystem(sub);
    if (st.is_ok()) st = engine->nvmf().add_listener(kNqn, &via);
    nvmf::NamespaceOptions ns;
    ns.bdev_name = "served";
    uint32_t nsid = 0;
    if (st.is_ok()) st = engine->nvmf().add_namespace(kNqn, ns, &nsid);
  });
  ASSERT_TRUE(st.is_ok());
  std::string uring_file = temp_file(8 << 20), aio_file = temp_file(8 << 20);
  std::vector<Case> cases = {
      {"malloc", "malloc:///c_malloc?size_mb=8&blk_size=4096", true},
      {"null", "null:///c_null?size_mb=8&blk_size=4096", false},
      {"uring", "uring://" + uring_file + "?blk_size=4096&name=c_uring", true},
      {"aio", "aio://" + aio_file + "?blk_size=4096&name=c_aio", true},
      {"error", "error:///c_error?base=base", true},
      {"nvmf", "nvmf://127.0.0.1:" + std::to_string(via.port) + "/" + kNqn + "?name=c_nvmf", true},
  };
  std::set<std::string> covered;
  for (const Case& c : cases) {
    check_module(*engine, c);
    covered.insert(c.scheme);
  }
  for (const std::string& scheme : bdev_module_schemes()) EXPECT_TRUE(covered.count(scheme) == 1);
  testing::stop_test_engine(*engine);
  unlink(uring_file.c_str());
  unlink(aio_file.c_str());
}
