// Test support: reads a libpcap capture (Ethernet, Linux cooked or null link layer; IPv4
// or IPv6; TCP) and reassembles each TCP connection's two byte streams by sequence number,
// so protocol parsers can be run over real traffic.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace nds::testing {

struct TcpStream {
  std::vector<uint8_t> bytes;  // in sequence order, retransmissions removed
  bool started = false;        // the SYN was seen
  uint32_t next_seq = 0;
  std::map<uint32_t, std::vector<uint8_t>> out_of_order;
};

struct TcpConnection {
  uint16_t client_port = 0;   // the side that is not `server_port`
  TcpStream to_server;         // host -> controller
  TcpStream to_client;         // controller -> host
};

// The NVMe/TCP captures: $NDS_VECTORS_DIR, else the repository's test/vectors/nvme-tcp
// (a copy of shared/vectors/nvme-tcp, so that a clone with nothing beside it passes).
std::string nvme_tcp_vectors_dir();

// Every connection to or from `server_port`, in the order their first packet appears.
// Returns false (with *error) when the file is not a capture this reader understands.
bool read_tcp_connections(const std::string& path, uint16_t server_port, std::vector<TcpConnection>* out,
                          std::string* error);

}  // namespace nds::testing
