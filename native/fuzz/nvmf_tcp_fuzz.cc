// libFuzzer target over the NVMe/TCP controller: the input is what a host sends on one
// connection (PDU framing, digests, IC exchange, Fabrics Connect, admin and I/O commands,
// data), fed to our Connection in pieces whose sizes the input also chooses, so PDUs
// split across reads are covered too. The controller answers into memory; nothing may
// crash, leak or trip a sanitizer, whatever the bytes.
//
// One host NQN (kAuthHost) has DH-HMAC-CHAP keys on the subsystem: its queues must
// authenticate, so the authentication commands and every message they carry are fuzzed.
//
// Seeds: with NDS_FUZZ_SEEDS=<dir>, the host side of every connection in the NVMe/TCP
// captures is written there first (pass the same dir as the corpus), and connections of
// kAuthHost that start DH-HMAC-CHAP transactions (built here: the captures have none).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "nvmf/auth/dhchap_host.h"
#include "nvmf/auth/key_format.h"
#include "nvmf/target/connection.h"
#include "nvmf/target/target.h"
#include "test/nvmf_fixtures.h"
#include "test/pcap.h"

using namespace nds;
using namespace nds::nvmf;

namespace {

Target* target = nullptr;
BufferSource* buffers = nullptr;
uint64_t pdus = 0;  // whole PDU frames handed to the target, over every input

void report_pdus() { std::fprintf(stderr, "pdus: %llu\n", static_cast<unsigned long long>(pdus)); }

void write_seeds(const std::string& dir) {
  const char* captures[] = {"identify.pcap", "discover.pcap", "io-4k-nodigest.pcap", "io-4k-digest.pcap",
                            "io-128k-digest.pcap"};
  int written = 0;
  for (const char* name : captures) {
    std::vector<testing::TcpConnection> connections;
    std::string error;
    if (!testing::read_tcp_connections(testing::nvme_tcp_vectors_dir() + "/" + name, 4420, &connections, &error)) {
      std::fprintf(stderr, "seeds: %s: %s\n", name, error.c_str());
      continue;
    }
    for (size_t i = 0; i < connections.size(); ++i) {
      // A chunk-size byte first (see LLVMFuzzerTestOneInput), then the host's bytes.
      std::ofstream out(dir + "/" + name + "-" + std::to_string(i), std::ios::binary);
      out.put(0);
      const auto& bytes = connections[i].to_server.bytes;
      out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
      ++written;
    }
  }
  std::fprintf(stderr, "seeds: %d connections written to %s\n", written, dir.c_str());
}

const char* kAuthHost = "nqn.2026-12.io.nodestor:fuzz-auth-host";
const char* kSubsystem = "nqn.2016-06.io.spdk:cnode1";

// A capsule carrying `data` in the capsule.
void append_capsule(std::vector<uint8_t>* out, uint8_t* sqe, const uint8_t* data, uint32_t length) {
  uint8_t header[kCapsuleCmdHeaderLength] = {};
  std::memcpy(header + 8, sqe, 64);
  if (length) {
    header[8 + 1] |= 0x40;  // SGL
    spec::put32(header + 8 + 32, length);
    header[8 + 39] = 0x01;  // data block, offset: in the capsule
  }
  append_pdu(out, PduType::CapsuleCmd, 0, header, kCapsuleCmdHeaderLength, data, length);
}

void append_auth(std::vector<uint8_t>* out, uint16_t cid, uint8_t fctype, const std::vector<uint8_t>& message, uint32_t receive_length) {
  uint8_t sqe[64] = {};
  sqe[0] = spec::kOpFabrics;
  spec::put16(sqe + 2, cid);
  sqe[4] = fctype;
  sqe[41] = auth::kAuthSpsp0;
  sqe[42] = auth::kAuthSpsp1;
  sqe[43] = auth::kAuthSecp;
  spec::put32(sqe + 44, fctype == auth::kFabricsAuthSend ? static_cast<uint32_t>(message.size()) : receive_length);
  append_capsule(out, sqe, message.data(), static_cast<uint32_t>(message.size()));
}

// ICReq, Connect as kAuthHost, Negotiate, Receive, then `rest` (a Reply, a Failure2, ...).
std::vector<uint8_t> auth_connection(uint32_t groups, const std::vector<uint8_t>& rest, bool receive_after) {
  std::vector<uint8_t> out;
  uint8_t ic[128] = {};
  append_pdu(&out, PduType::ICReq, 0, ic, sizeof ic, nullptr, 0);
  std::vector<uint8_t> connect(1024, 0);
  spec::put16(connect.data() + 16, 0xffff);
  std::memcpy(connect.data() + 256, kSubsystem, std::strlen(kSubsystem));
  std::memcpy(connect.data() + 512, kAuthHost, std::strlen(kAuthHost));
  uint8_t sqe[64] = {};
  sqe[0] = spec::kOpFabrics;
  sqe[4] = spec::kFabricsConnect;
  spec::put16(sqe + 44, 31);
  append_capsule(&out, sqe, connect.data(), 1024);
  auto keys = std::make_shared<auth::DhchapKeys>();
  auth::DhchapHost host(keys, {1u << 1, groups}, kAuthHost, kSubsystem);
  std::vector<uint8_t> negotiate = host.negotiate();
  spec::put16(negotiate.data() + 4, 1);  // transaction 1, which the messages below use
  append_auth(&out, 1, auth::kFabricsAuthSend, negotiate, 0);
  append_auth(&out, 2, auth::kFabricsAuthReceive, {}, auth::kHostReceiveBytes);
  append_auth(&out, 3, auth::kFabricsAuthSend, rest, 0);
  if (receive_after) append_auth(&out, 4, auth::kFabricsAuthReceive, {}, auth::kHostReceiveBytes);
  return out;
}

std::vector<uint8_t> reply_message(size_t dhvlen, bool bidirectional) {
  std::vector<uint8_t> m(auth::kHeaderBytes + 64 + dhvlen, 0x5a);
  m[0] = auth::kTypeDhchap;
  m[1] = auth::kIdReply;
  m[2] = m[3] = 0;
  spec::put16(m.data() + 4, 1);
  m[6] = 32;
  m[7] = 0;
  m[8] = bidirectional ? 1 : 0;
  m[9] = 0;
  spec::put16(m.data() + 10, static_cast<uint16_t>(dhvlen));
  spec::put32(m.data() + 12, bidirectional ? 7 : 0);
  return m;
}

void write_auth_seeds(const std::string& dir) {
  std::vector<uint8_t> failure2 = {auth::kTypeCommon, auth::kIdFailure2, 0, 0, 1, 0, auth::kFailureRc, 1};
  std::vector<uint8_t> success2(auth::kHeaderBytes, 0);
  success2[0] = auth::kTypeDhchap;
  success2[1] = auth::kIdSuccess2;
  const std::vector<std::pair<std::string, std::vector<uint8_t>>> seeds = {
      {"auth-null-reply", auth_connection(1u << 0, reply_message(0, false), true)},
      {"auth-null-bidirectional", auth_connection(1u << 0, reply_message(0, true), true)},
      {"auth-ffdhe2048-reply", auth_connection(1u << 1, reply_message(256, false), true)},
      {"auth-failure2", auth_connection(1u << 0, failure2, false)},
      {"auth-early-success2", auth_connection(1u << 0, success2, true)},
  };
  for (const auto& [name, bytes] : seeds) {
    std::ofstream out(dir + "/" + name, std::ios::binary);
    out.put(0);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  std::fprintf(stderr, "seeds: %zu authentication connections written to %s\n", seeds.size(), dir.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  target = new Target;
  // Like the captured target, so the seeds' Connects and I/O reach real command handling.
  testing::configure_captured_subsystem(*target, std::make_shared<testing::MemoryNamespace>(64u << 20));
  auto keys = std::make_shared<auth::DhchapKeys>();
  auth::SecretBytes key(32);
  for (size_t i = 0; i < key.size(); ++i) key.data()[i] = static_cast<uint8_t>(i * 13 + 1);
  keys->host.hash = 1;
  keys->host.key = key;
  keys->has_ctrl = true;  // so that a Reply asking the controller to authenticate is answered
  keys->ctrl.hash = 0;
  keys->ctrl.key = key;
  target->set_host_keys(kSubsystem, kAuthHost, keys);
  buffers = new HeapBuffers;
  if (const char* dir = std::getenv("NDS_FUZZ_SEEDS")) {
    write_seeds(dir);
    write_auth_seeds(dir);
  }
  std::atexit(report_pdus);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // First byte: the size of each piece handed to the connection (0: everything at once).
  const size_t piece = data[0] == 0 ? size : data[0];
  ++data;
  --size;
  pdus += testing::count_pdu_frames(data, size);
  Connection connection(*target, testing::kCapturedListener, *buffers, nullptr);
  for (size_t at = 0; at < size && !connection.closed(); at += piece) {
    connection.receive(data + at, std::min(piece, size - at));
    connection.output().take();  // gathers spliced read data too, as a socket would
  }
  connection.close("fuzz input ended");
  return 0;
}
