#include "test/pcap.h"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

namespace nds::testing {
namespace {

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) { return static_cast<uint32_t>(be16(p)) << 16 | be16(p + 2); }

void append(TcpStream& s, uint32_t seq, const uint8_t* data, size_t length) {
  if (!s.started || length == 0) return;
  int32_t ahead = static_cast<int32_t>(seq - s.next_seq);
  if (ahead > 0) {
    s.out_of_order[seq].assign(data, data + length);
    return;
  }
  // A retransmission may overlap what we have: keep only the new bytes.
  size_t skip = static_cast<size_t>(-ahead);
  if (skip >= length) return;
  s.bytes.insert(s.bytes.end(), data + skip, data + length);
  s.next_seq += static_cast<uint32_t>(length - skip);
  for (auto it = s.out_of_order.begin(); it != s.out_of_order.end();) {
    if (static_cast<int32_t>(it->first - s.next_seq) > 0) break;
    std::vector<uint8_t> chunk = std::move(it->second);
    uint32_t at = it->first;
    it = s.out_of_order.erase(it);
    append(s, at, chunk.data(), chunk.size());
    it = s.out_of_order.begin();
  }
}

}  // namespace

std::string nvme_tcp_vectors_dir() {
  if (const char* dir = std::getenv("NDS_VECTORS_DIR")) return dir;
  return std::string(NDS_SOURCE_DIR) + "/test/vectors/nvme-tcp";  // the repository's own copy
}

bool read_tcp_connections(const std::string& path, uint16_t server_port, std::vector<TcpConnection>* out,
                          std::string* error) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return *error = "cannot open " + path, false;
  std::vector<uint8_t> d((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (d.size() < 24) return *error = "too short for a capture", false;
  uint32_t magic;
  std::memcpy(&magic, d.data(), 4);
  if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) return *error = "not a little-endian libpcap file", false;
  uint32_t link;
  std::memcpy(&link, d.data() + 20, 4);
  std::map<uint16_t, size_t> by_client_port;
  for (size_t at = 24; at + 16 <= d.size();) {
    uint32_t caplen;
    std::memcpy(&caplen, d.data() + at + 8, 4);
    const uint8_t* frame = d.data() + at + 16;
    at += 16 + caplen;
    if (at > d.size()) return *error = "truncated packet record", false;
    size_t l2 = link == 1 ? 14 : link == 113 ? 16 : link == 0 ? 4 : SIZE_MAX;
    if (l2 == SIZE_MAX) return *error = "unsupported link type " + std::to_string(link), false;
    if (caplen < l2 + 20) continue;
    const uint8_t* ip = frame + l2;
    size_t ip_len = caplen - l2;
    const uint8_t* tcp;
    size_t tcp_len;
    if ((ip[0] >> 4) == 4) {
      size_t ihl = (ip[0] & 0x0f) * 4u;
      size_t total = be16(ip + 2);
      if (ip[9] != 6 || total > ip_len || total < ihl) continue;
      tcp = ip + ihl;
      tcp_len = total - ihl;
    } else if ((ip[0] >> 4) == 6) {
      if (ip[6] != 6 || ip_len < 40) continue;  // no extension headers on loopback TCP
      tcp = ip + 40;
      tcp_len = std::min<size_t>(be16(ip + 4), ip_len - 40);
    } else {
      continue;
    }
    if (tcp_len < 20) continue;
    uint16_t src = be16(tcp), dst = be16(tcp + 2);
    if (src != server_port && dst != server_port) continue;
    uint32_t seq = be32(tcp + 4);
    size_t offset = (tcp[12] >> 4) * 4u;
    bool syn = tcp[13] & 0x02;
    if (offset > tcp_len) continue;
    uint16_t client = dst == server_port ? src : dst;
    auto found = by_client_port.find(client);
    if (found == by_client_port.end()) {
      found = by_client_port.emplace(client, out->size()).first;
      out->push_back(TcpConnection{});
      out->back().client_port = client;
    }
    TcpConnection& c = (*out)[found->second];
    TcpStream& s = dst == server_port ? c.to_server : c.to_client;
    if (syn) {
      s.started = true;
      s.next_seq = seq + 1;
      continue;
    }
    append(s, seq, tcp + offset, tcp_len - offset);
  }
  return true;
}

}  // namespace nds::testing
