// NVMe/TCP over TLS 1.3 with a PSK, our host against our target over loopback in one
// engine. The subsystem holds each host's configured PSK; the nvmf bdev's URI names a 0600
// file holding it (psk=/path). Both cipher suites (a 32-byte PSK: TLS_AES_128_GCM_SHA256,
// 48 bytes: TLS_AES_256_GCM_SHA384) carry every queue, and data written through the TLS
// bdev reads back on the namespace. Refusals: a wrong PSK, a plain-text host on a listener
// that requires TLS, a host with a PSK that connects in plain text, PSK files that are
// open to others, missing or malformed; none leaves a bdev, and no message shows a key.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <random>

#include "engine.h"
#include "nvmf/auth/key_format.h"
#include "test/run_on.h"
#include "test/key_file.h"
#include "test/testing.h"

using namespace nds;
using namespace nds::nvmf;
using nds::testing::run_io;
using nds::testing::run_on;

namespace {

const std::string kSecureNqn = "nqn.2026-12.io.nodestor:tls-required";
const std::string kAllowNqn = "nqn.2026-12.io.nodestor:tls-allowed";
const std::string kHost = "nqn.2026-12.io.nodestor:tls-host";
const std::string kOtherHost = "nqn.2026-12.io.nodestor:tls-other-host";

std::string make_psk(uint8_t hash, uint8_t fill, size_t length) {
  auth::SecretBytes key(length);
  for (size_t i = 0; i < length; ++i) key.data()[i] = static_cast<uint8_t>(fill * 13 + i);
  return auth::format_tls_psk(hash, key);
}

using testing::KeyFile;

std::shared_ptr<auth::ParsedKey> parsed(const std::string& text) {
  auto k = std::make_shared<auth::ParsedKey>();
  EXPECT_TRUE(auth::parse_tls_psk(text, k.get()).is_ok());
  return k;
}

struct Fixture {
  std::unique_ptr<Engine> engine;
  ListenerAddress secure{"127.0.0.1", 0};
  ListenerAddress allow{"127.0.0.1", 0};
  const std::string psk256 = make_psk(1, 1, 32);  // the host's PSK at the TLS-required subsystem
  const std::string psk384 = make_psk(2, 2, 48);  // ... at the other one
  const std::string psk_plain = make_psk(0, 3, 32);  // the other host's: retained = configured

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
      for (const auto& [nqn, at, bdev, required] :
           {std::tuple{kSecureNqn, &secure, "m0", true}, std::tuple{kAllowNqn, &allow, "m1", false}}) {
        SubsystemOptions sub;
        sub.nqn = nqn;
        sub.hosts = {kHost, kOtherHost};
        if (st.is_ok()) st = svc.create_subsystem(sub);
        if (st.is_ok()) st = svc.add_listener(nqn, at, required);
        NamespaceOptions ns;
        ns.bdev_name = bdev;
        uint32_t nsid = 0;
        if (st.is_ok()) st = svc.add_namespace(nqn, ns, &nsid);
      }
      if (st.is_ok()) st = svc.set_host_psk(kSecureNqn, kHost, parsed(psk256));
      if (st.is_ok()) st = svc.set_host_psk(kAllowNqn, kHost, parsed(psk384));
      if (st.is_ok()) st = svc.set_host_psk(kSecureNqn, kOtherHost, parsed(psk_plain));
    });
    EXPECT_TRUE(st.is_ok());
    if (!st.is_ok()) std::printf("  set-up: %s\n", st.message.c_str());
  }
  ~Fixture() { testing::stop_test_engine(*engine); }
  std::string uri(const std::string& name, const std::string& nqn, const std::string& extra, const std::string& host = kHost) const {
    const uint16_t port = nqn == kSecureNqn ? secure.port : allow.port;
    return "nvmf://127.0.0.1:" + std::to_string(port) + "/" + nqn + "?hostnqn=" + host + "&name=" + name +
           "&ctrl_loss_timeout_ms=0" + extra;
  }
  Status create(const std::string& uri) { return testing::create_bdev(*engine, uri); }
  Bdev* find(const std::string& name) {
    Bdev* b = nullptr;
    run_on(engine->app_thread(), [&] { b = engine->bdevs().find(name); });
    return b;
  }
  // Writes 192 KiB (I/O larger than a TLS record and than the in-capsule limit) through
  // `name`, reads them back through it and from the namespace's own bdev.
  bool round_trip(const std::string& name, uint32_t seed, const std::string& local) {
    const size_t n = 192 * 1024;
    std::vector<uint8_t> data(n);
    std::mt19937 rng(seed);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    void* w = engine->dma().alloc(n);
    void* r = engine->dma().alloc(n);
    void* r2 = engine->dma().alloc(n);
    std::memcpy(w, data.data(), n);
    std::memset(r, 0, n);
    std::memset(r2, 0, n);
    const uint64_t at = uint64_t{seed} * n;
    const bool ok = run_io(*engine, name, IoType::Write, at, n, w) == 0 && run_io(*engine, local, IoType::Read, at, n, r) == 0 &&
                    run_io(*engine, name, IoType::Read, at, n, r2) == 0 && std::memcmp(r, data.data(), n) == 0 &&
                    std::memcmp(r2, data.data(), n) == 0;
    engine->dma().free(w);
    engine->dma().free(r);
    engine->dma().free(r2);
    return ok;
  }
};

bool mentions_key(const std::string& message, const std::string& psk) {
  const std::string body = psk.substr(16, psk.size() - 17);  // after "NVMeTLSkey-1:xx:"
  return message.find(body.substr(0, 12)) != std::string::npos;
}

}  // namespace

NDS_TEST(nvmf_tls_both_cipher_suites_carry_every_queue) {
  Fixture f;
  KeyFile k256(f.psk256, 0600), k384(f.psk384, 0600), kplain(f.psk_plain, 0600);
  Status st = f.create(f.uri("s256", kSecureNqn, "&psk=" + k256.path));
  EXPECT_TRUE(st.is_ok());
  if (!st.is_ok()) std::printf("  sha256: %s\n", st.message.c_str());
  st = f.create(f.uri("s384", kAllowNqn, "&psk=" + k384.path));
  EXPECT_TRUE(st.is_ok());
  if (!st.is_ok()) std::printf("  sha384: %s\n", st.message.c_str());
  st = f.create(f.uri("other", kSecureNqn, "&psk=" + kplain.path, kOtherHost));
  EXPECT_TRUE(st.is_ok());
  if (!st.is_ok()) std::printf("  untransformed PSK: %s\n", st.message.c_str());
  // Version 1 identities, with the PSK digest (libnvme's and the Linux host's), both suites.
  st = f.create(f.uri("v1s256", kSecureNqn, "&psk=" + k256.path + "&psk_identity_version=1"));
  EXPECT_TRUE(st.is_ok());
  if (!st.is_ok()) std::printf("  version 1, sha256: %s\n", st.message.c_str());
  st = f.create(f.uri("v1s384", kAllowNqn, "&psk=" + k384.path + "&psk_identity_version=1"));
  EXPECT_TRUE(st.is_ok());
  if (!st.is_ok()) std::printf("  version 1, sha384: %s\n", st.message.c_str());
  EXPECT_TRUE(f.find("s256") && f.round_trip("s256", 1, "m0"));
  EXPECT_TRUE(f.find("s384") && f.round_trip("s384", 2, "m1"));
  EXPECT_TRUE(f.find("other") && f.round_trip("other", 3, "m0"));
  EXPECT_TRUE(f.find("v1s256") && f.round_trip("v1s256", 5, "m0"));
  EXPECT_TRUE(f.find("v1s384") && f.round_trip("v1s384", 6, "m1"));
  for (const char* name : {"s256", "s384", "other", "v1s256", "v1s384"}) EXPECT_EQ(testing::remove_bdev(*f.engine, name).rc, 0);
}

NDS_TEST(nvmf_tls_refusals_end_the_connection_with_a_coded_error) {
  Fixture f;
  KeyFile wrong(make_psk(1, 9, 32), 0600), right(f.psk256, 0600), open_to_all(f.psk256, 0644);
  KeyFile malformed(f.psk256.substr(0, 20) + "A" + f.psk256.substr(21), 0600);
  // A PSK the target does not hold for this host: the TLS handshake fails.
  Status st = f.create(f.uri("a", kSecureNqn, "&psk=" + wrong.path));
  EXPECT_EQ(st.rc, -EACCES);
  EXPECT_TRUE(st.message.find("TLS handshake failed") != std::string::npos);
  // The same with a version 1 identity: its digest is of another key.
  st = f.create(f.uri("a1", kSecureNqn, "&psk=" + wrong.path + "&psk_identity_version=1"));
  EXPECT_EQ(st.rc, -EACCES);
  EXPECT_TRUE(st.message.find("TLS handshake failed") != std::string::npos);
  // An identity version that does not exist, or one without a PSK.
  st = f.create(f.uri("a2", kSecureNqn, "&psk=" + right.path + "&psk_identity_version=2"));
  EXPECT_EQ(st.rc, -EINVAL);
  EXPECT_TRUE(st.message.find("psk_identity_version must be 0 or 1") != std::string::npos);
  EXPECT_EQ(f.create(f.uri("a3", kSecureNqn, "&psk_identity_version=1")).rc, -EINVAL);
  // A plain-text host on a listener that requires TLS.
  st = f.create(f.uri("b", kSecureNqn, ""));
  EXPECT_EQ(st.rc, -EACCES);
  // A host that has a PSK at the subsystem, connecting in plain text where TLS is allowed.
  st = f.create(f.uri("c", kAllowNqn, ""));
  EXPECT_EQ(st.rc, -EACCES);
  // The other host has no PSK at kAllowNqn: its TLS identity finds none.
  st = f.create(f.uri("d", kAllowNqn, "&psk=" + right.path, kOtherHost));
  EXPECT_EQ(st.rc, -EACCES);
  // PSK files: open to others, missing, malformed. Refused before anything connects.
  st = f.create(f.uri("e", kSecureNqn, "&psk=" + open_to_all.path));
  EXPECT_EQ(st.rc, -EPERM);
  EXPECT_TRUE(st.message.find("must be mode 0600") != std::string::npos);
  EXPECT_EQ(f.create(f.uri("g", kSecureNqn, "&psk=/tmp/nds-no-such-psk-file")).rc, -ENOENT);
  st = f.create(f.uri("h", kSecureNqn, "&psk=" + malformed.path));
  EXPECT_EQ(st.rc, -EINVAL);
  EXPECT_TRUE(!mentions_key(st.message, f.psk256));
  for (const char* name : {"a", "a1", "a2", "a3", "b", "c", "d", "e", "g", "h"}) EXPECT_TRUE(f.find(name) == nullptr);
  // The right PSK still works after all of that; taking it away ends the controller.
  EXPECT_TRUE(f.create(f.uri("ok", kSecureNqn, "&psk=" + right.path)).is_ok());
  EXPECT_TRUE(f.round_trip("ok", 4, "m0"));
  Status removed;
  run_on(f.engine->app_thread(), [&] { removed = f.engine->nvmf().set_host_psk(kSecureNqn, kHost, nullptr); });
  EXPECT_TRUE(removed.is_ok());
  EXPECT_EQ(f.create(f.uri("again", kSecureNqn, "&psk=" + right.path)).rc, -EACCES);
  EXPECT_EQ(testing::remove_bdev(*f.engine, "ok").rc, 0);
}

namespace {
// Sends `bytes` on a fresh connection to the port and returns whether the target closed
// it (recv sees the end, or a reset) within two seconds.
bool target_closes_after(uint16_t port, const std::vector<uint8_t>& bytes) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  bool closed = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0 &&
      send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())) {
    uint8_t buf[4096];
    for (;;) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n > 0) continue;  // an alert on its way out
      closed = n == 0 || errno == ECONNRESET;
      break;
    }
  }
  close(fd);
  return closed;
}
}  // namespace

NDS_TEST(nvmf_tls_malformed_records_end_only_their_connection) {
  Fixture f;
  KeyFile right(f.psk256, 0600);
  // A handshake record whose ClientHello is garbage, and one that claims a huge length
  // and then stops: the first is refused at once, the second when the peer goes quiet.
  std::vector<uint8_t> garbage = {0x16, 0x03, 0x01, 0x00, 0x20};
  for (int i = 0; i < 0x20; ++i) garbage.push_back(static_cast<uint8_t>(i * 37));
  EXPECT_TRUE(target_closes_after(f.secure.port, garbage));
  std::vector<uint8_t> wrong_version = {0x16, 0x7f, 0x7f, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00};
  EXPECT_TRUE(target_closes_after(f.secure.port, wrong_version));
  // The target keeps serving: a good host still gets its I/O through.
  EXPECT_TRUE(f.create(f.uri("after", kSecureNqn, "&psk=" + right.path)).is_ok());
  EXPECT_TRUE(f.round_trip("after", 5, "m0"));
  EXPECT_EQ(testing::remove_bdev(*f.engine, "after").rc, 0);
}
