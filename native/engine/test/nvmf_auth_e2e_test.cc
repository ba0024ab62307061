// DH-HMAC-CHAP between our host and our target over loopback, in one engine: the nvmf
// bdev's URI carries the keys (dhchap_key, dhchap_ctrlr_key, dhchap_digests,
// dhchap_dhgroups), the subsystem holds the host's keys. Every queue (admin and I/O)
// authenticates; data written through the authenticated bdev reads back on the namespace.
// Refusals: a wrong key, a missing key, a wrong controller key, a controller key with a
// subsystem that does not authenticate; none leaves a bdev, and no message shows a key.
#include <cstring>
#include <random>
#include <tuple>

#include "engine.h"
#include "nvmf/auth/key_format.h"
#include "nvmf/wire/nvme_spec.h"
#include "test/run_on.h"
#include "test/testing.h"

using namespace nds;
using namespace nds::nvmf;
using nds::testing::run_io;
using nds::testing::run_on;

namespace {

const std::string kNqn = "nqn.2026-12.io.nodestor:auth-e2e";
const std::string kHost = "nqn.2026-12.io.nodestor:auth-e2e-host";
const std::string kOpenNqn = "nqn.2026-12.io.nodestor:auth-e2e-open";

std::string make_secret(uint8_t hash, uint8_t fill, size_t length) {
  auth::SecretBytes key(length);
  for (size_t i = 0; i < length; ++i) key.data()[i] = static_cast<uint8_t>(fill * 7 + i);
  return auth::format_dhchap_secret(hash, key);
}

struct Fixture {
  std::unique_ptr<Engine> engine;
  ListenerAddress via{"127.0.0.1", 0};
  ListenerAddress open_via{"127.0.0.1", 0};
  const std::string host_key = make_secret(1, 1, 32);
  const std::string ctrl_key = make_secret(3, 2, 64);

  Fixture() {
    EngineOptions options;
    options.memory_bytes = 128ull << 20;
    options.hugepages = HugepageMode::Off;
    std::string warning;
    EXPECT_TRUE(Engine::start(options, &engine, &warning).is_ok());
    EXPECT_TRUE(testing::create_bdev(*engine, "malloc:///m0?size_mb=8").is_ok());
    EXPECT_TRUE(testing::create_bdev(*engine, "malloc:///m1?size_mb=8").is_ok());
    Status st;
    run_on(engine->app_thread(), [&] {
      auto& svc = engine->nvmf();
      auto keys = std::make_shared<auth::DhchapKeys>();
      st = auth::parse_dhchap_secret(host_key, &keys->host);
      keys->has_ctrl = true;
      if (st.is_ok()) st = auth::parse_dhchap_secret(ctrl_key, &keys->ctrl);
      for (const auto& [nqn, at, bdev] : {std::tuple{kNqn, &via, "m0"}, std::tuple{kOpenNqn, &open_via, "m1"}}) {
        SubsystemOptions sub;
        sub.nqn = nqn;
        sub.hosts = {kHost};
        if (st.is_ok()) st = svc.create_subsystem(sub);
        if (st.is_ok()) st = svc.add_listener(nqn, at);
        NamespaceOptions ns;
        ns.bdev_name = bdev;
        uint32_t nsid = 0;
        if (st.is_ok()) st = svc.add_namespace(nqn, ns, &nsid);
      }
      if (st.is_ok()) st = svc.set_host_keys(kNqn, kHost, keys);  // kOpenNqn: no keys
    });
    EXPECT_TRUE(st.is_ok());
    if (!st.is_ok()) std::printf("  set-up: %s\n", st.message.c_str());
  }
  ~Fixture() { testing::stop_test_engine(*engine); }
  std::string uri(const std::string& name, const std::string& extra, const std::string& nqn = kNqn) const {
    const uint16_t port = nqn == kNqn ? via.port : open_via.port;
    return "nvmf://127.0.0.1:" + std::to_string(port) + "/" + nqn + "?hostnqn=" + kHost + "&name=" + name + "&ctrl_loss_timeout_ms=0" + extra;
  }
  Status create(const std::string& uri) { return testing::create_bdev(*engine, uri); }
  Bdev* find(const std::string& name) {
    Bdev* b = nullptr;
    run_on(engine->app_thread(), [&] { b = engine->bdevs().find(name); });
    return b;
  }
  // Writes 64 KiB through `name` (I/O queue), reads them back from the namespace's bdev.
  bool round_trip(const std::string& name, uint32_t seed, const std::string& local = "m0") {
    const size_t n = 64 * 1024;
    std::vector<uint8_t> data(n);
    std::mt19937 rng(seed);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    void* w = engine->dma().alloc(n);
    void* r = engine->dma().alloc(n);
    std::memcpy(w, data.data(), n);
    std::memset(r, 0, n);
    const bool ok = run_io(*engine, name, IoType::Write, seed * n, n, w) == 0 && run_io(*engine, local, IoType::Read, seed * n, n, r) == 0 &&
                    std::memcmp(r, data.data(), n) == 0;
    engine->dma().free(w);
    engine->dma().free(r);
    return ok;
  }
};

bool mentions_key(const std::string& message, const std::string& secret) {
  // The base64 body of the secret (between the second and last colons) must not appear.
  const std::string body = secret.substr(10, secret.size() - 11);
  return message.find(body.substr(0, 12)) != std::string::npos;
}

}  // namespace

NDS_TEST(nvmf_dhchap_every_hash_and_group_one_way_and_both_ways_over_tcp) {
  Fixture f;
  int round = 0;
  for (const char* digest : {"sha256", "sha384", "sha512"})
    for (const char* group : {"null", "ffdhe2048", "ffdhe3072", "ffdhe4096", "ffdhe6144", "ffdhe8192"}) {
      const std::string policy = std::string("&dhchap_digests=") + digest + "&dhchap_dhgroups=" + group;
      const std::string one = "one" + std::to_string(round), both = "both" + std::to_string(round);
      Status st = f.create(f.uri(one, "&dhchap_key=" + f.host_key + policy));
      EXPECT_TRUE(st.is_ok());
      if (!st.is_ok()) std::printf("  %s %s one-way: %s\n", digest, group, st.message.c_str());
      st = f.create(f.uri(both, "&dhchap_key=" + f.host_key + "&dhchap_ctrlr_key=" + f.ctrl_key + policy));
      EXPECT_TRUE(st.is_ok());
      if (!st.is_ok()) std::printf("  %s %s both ways: %s\n", digest, group, st.message.c_str());
      EXPECT_TRUE(f.find(one) && f.round_trip(one, static_cast<uint32_t>(2 * round + 1)));
      EXPECT_TRUE(f.find(both) && f.round_trip(both, static_cast<uint32_t>(2 * round + 2)));
      EXPECT_EQ(testing::remove_bdev(*f.engine, one).rc, 0);
      EXPECT_EQ(testing::remove_bdev(*f.engine, both).rc, 0);
      ++round;
    }
}

NDS_TEST(nvmf_dhchap_refusals_end_the_connection_with_eacces_naming_the_step) {
  Fixture f;
  const std::string wrong = make_secret(1, 9, 32), wrong_ctrl = make_secret(3, 8, 64);
  // Wrong host key: the controller refuses the reply.
  Status st = f.create(f.uri("a", "&dhchap_key=" + wrong + "&dhchap_dhgroups=ffdhe2048"));
  EXPECT_EQ(st.rc, -EACCES);
  EXPECT_TRUE(st.message.find("reply: the controller refused: the response did not match") != std::string::npos);
  EXPECT_TRUE(!mentions_key(st.message, wrong));
  // No key at all for a subsystem that requires one.
  st = f.create(f.uri("b", ""));
  EXPECT_EQ(st.rc, -EACCES);
  EXPECT_TRUE(st.message.find("requires DH-HMAC-CHAP authentication and no dhchap_key was given") != std::string::npos);
  // The controller proves a different controller key than the host holds.
  st = f.create(f.uri("c", "&dhchap_key=" + f.host_key + "&dhchap_ctrlr_key=" + wrong_ctrl));
  EXPECT_EQ(st.rc, -EACCES);
  EXPECT_TRUE(st.message.find("success1: the controller's response does not match the controller key") != std::string::npos);
  // A controller key, and a subsystem that does not authenticate: it cannot prove itself.
  st = f.create(f.uri("d", "&dhchap_key=" + f.host_key + "&dhchap_ctrlr_key=" + f.ctrl_key, kOpenNqn));
  EXPECT_EQ(st.rc, -EACCES);
  EXPECT_TRUE(st.message.find("did not ask to authenticate") != std::string::npos);
  // A malformed key: refused before anything connects, the key not echoed.
  const std::string damaged = f.host_key.substr(0, 20) + "A" + f.host_key.substr(21);
  st = f.create(f.uri("e", "&dhchap_key=" + damaged));
  EXPECT_EQ(st.rc, -EINVAL);
  EXPECT_TRUE(st.message.find("dhchap_key: DH-HMAC-CHAP secret") != std::string::npos);
  EXPECT_TRUE(st.message.find("(secret)") != std::string::npos && !mentions_key(st.message, damaged));
  EXPECT_EQ(f.create(f.uri("g", "&dhchap_digests=md5&dhchap_key=" + f.host_key)).rc, -EINVAL);
  EXPECT_EQ(f.create(f.uri("h", "&dhchap_ctrlr_key=" + f.ctrl_key)).rc, -EINVAL);
  for (const char* name : {"a", "b", "c", "d", "e", "g", "h"}) EXPECT_TRUE(f.find(name) == nullptr);
  // A subsystem without keys still takes a host with only a host key (nothing to prove).
  EXPECT_TRUE(f.create(f.uri("open", "&dhchap_key=" + f.host_key, kOpenNqn)).is_ok());
  EXPECT_TRUE(f.round_trip("open", 40, "m1"));
  // Keys taken away from the host end its controllers; it may then connect without.
  Status removed;
  run_on(f.engine->app_thread(), [&] { removed = f.engine->nvmf().set_host_keys(kNqn, kHost, nullptr); });
  EXPECT_TRUE(removed.is_ok());
  EXPECT_TRUE(f.create(f.uri("plain", "")).is_ok());
  EXPECT_TRUE(f.round_trip("plain", 41));
}
