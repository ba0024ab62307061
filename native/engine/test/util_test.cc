#include <algorithm>
#include <cstring>
#include <vector>

#include "bdev/iostat.h"
#include "test/testing.h"
#include "util/uri.h"
#include "util/uuid.h"

using namespace nds;

NDS_TEST(uri_parses_scheme_path_and_query_and_rejects_malformed) {
  Uri uri;
  ASSERT_TRUE(parse_uri("malloc:///m0?size_mb=64&blk_size=4096", &uri).is_ok());
  EXPECT_EQ(uri.scheme, std::string("malloc"));
  EXPECT_EQ(uri.host, std::string(""));
  EXPECT_EQ(uri.path, std::string("m0"));
  EXPECT_EQ(uri.query.params.size(), 2u);
  ASSERT_TRUE(parse_uri("nvmf://127.0.0.1:8420/nqn.x%3Ay?hostnqn=h", &uri).is_ok());
  EXPECT_EQ(uri.host, std::string("127.0.0.1:8420"));
  EXPECT_EQ(uri.path, std::string("nqn.x:y"));
  EXPECT_EQ(parse_uri("m0", &uri).rc, -EINVAL);
  EXPECT_EQ(parse_uri("Malloc:///m0", &uri).rc, -EINVAL);
  EXPECT_EQ(parse_uri("malloc:///m0?size_mb", &uri).rc, -EINVAL);
  EXPECT_EQ(parse_uri("malloc:///m0?a=1&a=2", &uri).rc, -EINVAL);
  EXPECT_EQ(parse_uri("malloc:///m%zz", &uri).rc, -EINVAL);
  EXPECT_EQ(parse_uri("malloc:///m%4", &uri).rc, -EINVAL);
}

NDS_TEST(uri_query_numbers_are_strict) {
  Uri uri;
  ASSERT_TRUE(parse_uri("x:///n?a=12&b=1x&c=-1&d=99999999999999999999999&e=5", &uri).is_ok());
  std::optional<uint64_t> v;
  EXPECT_TRUE(uri.query.take_u64("a", 1, 100, &v).is_ok());
  EXPECT_EQ(*v, 12u);
  EXPECT_EQ(uri.query.take_u64("b", 0, 100, &v).rc, -EINVAL);
  EXPECT_EQ(uri.query.take_u64("c", 0, 100, &v).rc, -EINVAL);
  EXPECT_EQ(uri.query.take_u64("d", 0, UINT64_MAX, &v).rc, -EINVAL);
  EXPECT_EQ(uri.query.take_u64("e", 6, 100, &v).rc, -EINVAL);
  EXPECT_TRUE(uri.query.reject_unknown("x").is_ok());
  uri.query.params["zzz"] = "1";
  Status st = uri.query.reject_unknown("x");
  EXPECT_EQ(st.rc, -EINVAL);
  EXPECT_TRUE(st.message.find("zzz") != std::string::npos);
}

NDS_TEST(bdev_names_are_validated) {
  EXPECT_TRUE(validate_bdev_name("m0").is_ok());
  EXPECT_EQ(validate_bdev_name("").rc, -EINVAL);
  EXPECT_EQ(validate_bdev_name("a/b").rc, -EINVAL);
  EXPECT_EQ(validate_bdev_name("a b").rc, -EINVAL);
  EXPECT_EQ(validate_bdev_name(std::string(64, 'a')).rc, -EINVAL);
  EXPECT_TRUE(validate_bdev_name(std::string(63, 'a')).is_ok());
}

NDS_TEST(uuid_v4_round_trips_through_text) {
  Uuid a = Uuid::random_v4();
  Uuid b = Uuid::random_v4();
  EXPECT_TRUE(!(a == b));
  EXPECT_EQ(a.bytes[6] >> 4, 4);
  auto parsed = Uuid::parse(a.to_string());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(*parsed == a);
  EXPECT_TRUE(!Uuid::parse("not-a-uuid").has_value());
  EXPECT_TRUE(!Uuid::parse("0123456789abcdef0123456789abcdef0123").has_value());
  EXPECT_EQ(Uuid::parse("6BA7B810-9DAD-11D1-80B4-00C04FD430C8")->to_string(),
            std::string("6ba7b810-9dad-11d1-80b4-00c04fd430c8"));
}

NDS_TEST(latency_buckets_are_monotonic_and_cover_their_values) {
  int previous = -1;
  for (uint64_t ns : {0ull, 1ull, 15ull, 16ull, 17ull, 100ull, 1000ull, 123456ull, 1ull << 30, 1ull << 42}) {
    int b = latency_bucket(ns);
    EXPECT_TRUE(b >= previous);
    EXPECT_TRUE(latency_bucket_upper_ns(b) >= ns);
    // Resolution: the bucket's upper bound is within 1/16 of the value.
    EXPECT_TRUE(latency_bucket_upper_ns(b) - ns <= ns / 16 + 1);
    previous = b;
  }
  IoStat stat;
  for (int i = 1; i <= 100; ++i) stat.record(IoType::Read, 4096, static_cast<uint64_t>(i) * 1000, false);
  stat.record(IoType::Write, 4096, 5000, true);
  IoStatSnapshot snap;
  stat.add_to(&snap);
  EXPECT_EQ(snap.types[0].ops, 100u);
  EXPECT_EQ(snap.types[0].bytes, 409600u);
  EXPECT_EQ(snap.types[1].errors, 1u);
  EXPECT_EQ(snap.types[1].bytes, 0u);
  uint64_t p50 = snap.percentile_ns(IoType::Read, 0.5);
  EXPECT_TRUE(p50 >= 50000 && p50 <= 53200);
  uint64_t p99 = snap.percentile_ns(IoType::Read, 0.99);
  EXPECT_TRUE(p99 >= 99000 && p99 <= 105000);
  EXPECT_TRUE(snap.max_ns(IoType::Read) >= 100000);
}

#include "util/crc32c.h"

NDS_TEST(crc32c_matches_known_vectors_and_continues) {
  // RFC 3720 (iSCSI) test vectors.
  uint8_t zeros[32] = {};
  uint8_t ones[32];
  uint8_t incrementing[32];
  for (int i = 0; i < 32; ++i) {
    ones[i] = 0xff;
    incrementing[i] = static_cast<uint8_t>(i);
  }
  EXPECT_EQ(crc32c(zeros, 32), 0x8a9136aau);
  EXPECT_EQ(crc32c(ones, 32), 0x62a8ab43u);
  EXPECT_EQ(crc32c(incrementing, 32), 0x46dd794eu);
  EXPECT_EQ(crc32c("123456789", 9), 0xe3069283u);
  EXPECT_EQ(crc32c(incrementing + 5, 27, crc32c(incrementing, 5)), crc32c(incrementing, 32));
}

#include "util/crc32c_impl.h"

NDS_TEST(crc32c_hardware_path_equals_portable_at_every_length_alignment_and_seed) {
  if (!nds::detail::crc32c_sse42_available()) return;  // nothing to compare on this CPU
  // Lengths cover every branch of the three-way loop (4096/1360/256/64-byte blocks) and
  // the tails; offsets cover unaligned starts; seeds cover continued checksums.
  std::vector<uint8_t> data(3 * 4096 * 3 + 64);
  uint32_t x = 12345;
  for (auto& b : data) b = static_cast<uint8_t>((x = x * 1103515245u + 12345u) >> 24);
  const uint32_t seeds[] = {0u, 0xFFFFFFFFu, 0x1234ABCDu};
  for (size_t len = 0; len <= 9000; len += (len < 300 ? 1 : 61)) {
    for (size_t offset : {0u, 1u, 3u, 8u, 13u}) {
      for (uint32_t seed : seeds)
        EXPECT_EQ(nds::detail::crc32c_sse42(data.data() + offset, len, seed),
                  nds::detail::crc32c_portable(data.data() + offset, len, seed));
    }
  }
  for (size_t len : {4096u, 4096u * 9, 131072u - 64, 3 * 4096u * 3}) {
    size_t n = std::min(len, data.size() - 5);
    EXPECT_EQ(nds::detail::crc32c_sse42(data.data() + 5, n, 7), nds::detail::crc32c_portable(data.data() + 5, n, 7));
  }
  EXPECT_EQ(nds::detail::crc32c_sse42("123456789", 9, 0), 0xe3069283u);
}

#include "util/stream_copy.h"

NDS_TEST(stream_copy_and_zero_write_exactly_the_range_from_any_source_alignment) {
  // The destination is 64-byte aligned like a bdev block; the source is not always.
  alignas(64) static uint8_t dst[8192 + 128];
  std::vector<uint8_t> src(8192 + 64);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 7 + 3);
  for (size_t len : {64u, 512u, 4096u, 8192u}) {
    for (size_t src_offset : {0u, 1u, 8u, 15u, 33u}) {
      std::memset(dst, 0xEE, sizeof(dst));
      nds::stream_copy(dst + 64, src.data() + src_offset, len);
      nds::store_fence();
      EXPECT_TRUE(std::memcmp(dst + 64, src.data() + src_offset, len) == 0);
      EXPECT_EQ(dst[63], 0xEE);        // nothing before the range
      EXPECT_EQ(dst[64 + len], 0xEE);  // nothing after it
    }
    std::memset(dst, 0xEE, sizeof(dst));
    nds::stream_zero(dst + 64, len);
    nds::store_fence();
    size_t nonzero = 0;
    for (size_t i = 0; i < len; ++i) nonzero += dst[64 + i] != 0;
    EXPECT_EQ(nonzero, 0u);
    EXPECT_EQ(dst[63], 0xEE);
    EXPECT_EQ(dst[64 + len], 0xEE);
  }
  EXPECT_TRUE(nds::streaming_threshold_bytes() >= (1u << 20));
  EXPECT_TRUE(!nds::worth_streaming(nds::streaming_threshold_bytes()));
  EXPECT_TRUE(nds::worth_streaming(nds::streaming_threshold_bytes() + 1));
}
