// The target's output stream: bytes and spliced read buffers leave in stream order however
// the socket splits them, and every spliced buffer goes back to its pool exactly once.
#include <sys/uio.h>

#include <cstring>
#include <vector>

#include "nvmf/target/connection.h"
#include "nvmf/wire/output_stream.h"
#include "test/testing.h"

using namespace nds::nvmf;

namespace {

// Counts buffers out and back so a leak or a double return shows.
class CountingBuffers final : public BufferSource {
 public:
  void* get(uint32_t length) override {
    ++out;
    return new uint8_t[length];
  }
  void put(void* buffer, uint32_t) override {
    ++returned;
    delete[] static_cast<uint8_t*>(buffer);
  }
  int out = 0;
  int returned = 0;
};

// Three "PDUs": 5 header bytes, then spliced data of 3000 bytes, then 2 digest bytes.
std::vector<uint8_t> fill(OutputStream& stream, CountingBuffers& pool, uint8_t seed) {
  std::vector<uint8_t> expected;
  for (int pdu = 0; pdu < 3; ++pdu) {
    for (int i = 0; i < 5; ++i) stream.bytes().push_back(static_cast<uint8_t>(seed + pdu * 10 + i));
    expected.insert(expected.end(), stream.bytes().end() - 5, stream.bytes().end());
    auto* data = static_cast<uint8_t*>(pool.get(3000));
    for (int i = 0; i < 3000; ++i) data[i] = static_cast<uint8_t>(seed * 7 + pdu + i * 3);
    stream.splice(data, 3000, data, 3000);
    expected.insert(expected.end(), data, data + 3000);
    stream.bytes().push_back(0xD0);
    stream.bytes().push_back(static_cast<uint8_t>(pdu));
    expected.insert(expected.end(), stream.bytes().end() - 2, stream.bytes().end());
  }
  return expected;
}

// Sends like a socket that takes at most `chunk` bytes per call through at most `max_iov`
// iovecs.
std::vector<uint8_t> drain(OutputStream& stream, size_t chunk, int max_iov) {
  std::vector<uint8_t> sent;
  iovec iov[8];
  while (!stream.empty()) {
    int count = stream.gather(iov, max_iov);
    size_t room = chunk;
    for (int i = 0; i < count && room > 0; ++i) {
      size_t n = std::min(room, iov[i].iov_len);
      auto* p = static_cast<const uint8_t*>(iov[i].iov_base);
      sent.insert(sent.end(), p, p + n);
      room -= n;
    }
    stream.consume(chunk - room);
  }
  return sent;
}

}  // namespace

NDS_TEST(nvmf_output_stream_sends_bytes_and_splices_in_order_and_returns_each_buffer_once) {
  for (size_t chunk : {1u, 7u, 3000u, 3005u, 4096u, 100000u}) {
    for (int max_iov : {1, 2, 8}) {
      CountingBuffers pool;
      OutputStream stream(&pool);
      std::vector<uint8_t> expected = fill(stream, pool, static_cast<uint8_t>(chunk + max_iov));
      EXPECT_TRUE(drain(stream, chunk, max_iov) == expected);
      EXPECT_EQ(pool.returned, 3);
      EXPECT_TRUE(stream.empty());
    }
  }
}

NDS_TEST(nvmf_output_stream_keeps_order_when_appended_to_while_partly_sent) {
  CountingBuffers pool;
  OutputStream stream(&pool);
  std::vector<uint8_t> expected = fill(stream, pool, 1);
  std::vector<uint8_t> sent = drain(stream, 1000, 8);  // drains all; now refill and send in halves
  std::vector<uint8_t> more = fill(stream, pool, 2);
  iovec iov[8];
  int count = stream.gather(iov, 8);
  EXPECT_TRUE(count > 0);
  stream.consume(4000);  // into the second splice
  std::vector<uint8_t> appended = fill(stream, pool, 3);
  std::vector<uint8_t> rest = drain(stream, 2500, 3);
  std::vector<uint8_t> want(more.begin() + 4000, more.end());
  want.insert(want.end(), appended.begin(), appended.end());
  EXPECT_TRUE(sent == expected);
  EXPECT_TRUE(rest == want);
  EXPECT_EQ(pool.returned, 9);
}

NDS_TEST(nvmf_output_stream_compacts_a_stream_that_never_empties_and_keeps_its_order) {
  CountingBuffers pool;
  {
    OutputStream stream(&pool);
    std::vector<uint8_t> all = fill(stream, pool, 9);
    stream.consume(10);
    // Each round sends a little less than it adds, so the stream never empties and starts
    // over by itself: only compaction (every 256 spliced buffers) bounds it.
    for (int round = 0; round < 400; ++round) {
      std::vector<uint8_t> added = fill(stream, pool, static_cast<uint8_t>(round));
      all.insert(all.end(), added.begin(), added.end());
      stream.consume(9000);
    }
    std::vector<uint8_t> tail = stream.take();
    EXPECT_EQ(tail.size(), 3 * 3007u * 401 - 10 - 9000u * 400);
    EXPECT_TRUE(std::equal(tail.begin(), tail.end(), all.end() - static_cast<long>(tail.size())));
  }
  EXPECT_EQ(pool.returned, pool.out);
}

NDS_TEST(nvmf_output_stream_destroyed_with_unsent_splices_returns_them) {
  CountingBuffers pool;
  {
    OutputStream stream(&pool);
    fill(stream, pool, 4);
    stream.consume(3010);  // first splice sent and returned
    EXPECT_EQ(pool.returned, 1);
  }
  EXPECT_EQ(pool.returned, 3);
}
