// libFuzzer target over the NVMe/TCP controller: the input is what a host sends on one
// connection (PDU framing, digests, IC exchange, Fabrics Connect, admin and I/O commands,
// data), fed to our Connection in pieces whose sizes the input also chooses, so PDUs
// split across reads are covered too. The controller answers into memory; nothing may
// crash, leak or trip a sanitizer, whatever the bytes.
//
// Seeds: with NDS_FUZZ_SEEDS=<dir>, the host side of every connection in the NVMe/TCP
// captures is written there first (pass the same dir as the corpus).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

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

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  target = new Target;
  // Like the captured target, so the seeds' Connects and I/O reach real command handling.
  testing::configure_captured_subsystem(*target, std::make_shared<testing::MemoryNamespace>(64u << 20));
  buffers = new HeapBuffers;
  if (const char* dir = std::getenv("NDS_FUZZ_SEEDS")) write_seeds(dir);
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
