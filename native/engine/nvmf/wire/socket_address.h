// Numeric IPv4/IPv6 socket addresses for the NVMe/TCP target and host (no name lookups:
// listeners and remotes are given as addresses).
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "util/status.h"

namespace nds::nvmf {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

inline Status resolve_numeric(const std::string& address, uint16_t port, SocketAddress* out) {
  *out = SocketAddress{};
  if (address.find(':') != std::string::npos) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out->storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, address.c_str(), &sin6->sin6_addr) != 1)
      return Status::error(-EINVAL, "invalid IPv6 address '" + address + "'");
    out->length = sizeof(sockaddr_in6);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out->storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    if (inet_pton(AF_INET, address.c_str(), &sin->sin_addr) != 1)
      return Status::error(-EINVAL, "invalid IPv4 address '" + address + "'");
    out->length = sizeof(sockaddr_in);
  }
  return Status::ok();
}

inline uint16_t bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  return ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

}  // namespace nds::nvmf
