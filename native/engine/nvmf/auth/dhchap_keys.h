// What a DH-HMAC-CHAP exchange needs to know, on either side: the keys (as parsed from
// their DHHC-1 form, wiped when the last holder lets go) and which hash functions and DH
// groups this side allows (bit n set: identifier n allowed).
#pragma once
#include <cstdint>
#include <memory>

#include "nvmf/auth/key_format.h"

namespace nds::nvmf::auth {

struct DhchapKeys {
  ParsedKey host;        // the host's secret: the host proves it knows it
  bool has_ctrl = false;  // bidirectional: the controller proves it knows `ctrl` too
  ParsedKey ctrl;
};

constexpr uint32_t kAllHashes = (1u << 1) | (1u << 2) | (1u << 3);
constexpr uint32_t kAllDhGroups = 0x3f;  // null and ffdhe2048 .. ffdhe8192

struct DhchapPolicy {
  uint32_t hashes = kAllHashes;
  uint32_t dh_groups = kAllDhGroups;
};

}  // namespace nds::nvmf::auth
