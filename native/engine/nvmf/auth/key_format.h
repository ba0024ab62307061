// The textual forms of NVMe-oF keys, both of which carry the key and its CRC-32 in base64:
//   DHHC-1:xx:<base64(key || crc32)>:       a DH-HMAC-CHAP secret (NVMe Base 2.0, 8.13.5.8);
//       xx is the hash that transforms it (00 none, 01 SHA-256, 02 SHA-384, 03 SHA-512),
//       the key is 32, 48 or 64 bytes;
//   NVMeTLSkey-1:xx:<base64(psk || crc32)>: a configured TLS PSK (NVMe/TCP 3.6.1.5);
//       xx is the hash that makes the retained PSK (00 none, 01 SHA-256, 02 SHA-384), the
//       PSK is 32 or 48 bytes.
// A CRC that does not match means the key is not used (the specifications require it).
// Error messages never contain key bytes.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "nvmf/auth/secret_bytes.h"
#include "util/status.h"

namespace nds::nvmf::auth {

// CRC-32 as RFC 1952 (gzip) defines it.
uint32_t crc32_ieee(const uint8_t* data, size_t n);

std::string base64_encode(const uint8_t* data, size_t n);
// Strict: padding required, no whitespace; false on anything else.
bool base64_decode(std::string_view text, SecretBytes* out);

struct ParsedKey {
  uint8_t hash = 0;  // the xx field
  SecretBytes key;
};

Status parse_dhchap_secret(std::string_view text, ParsedKey* out);
std::string format_dhchap_secret(uint8_t hash, const SecretBytes& key);
Status parse_tls_psk(std::string_view text, ParsedKey* out);
std::string format_tls_psk(uint8_t hash, const SecretBytes& psk);

}  // namespace nds::nvmf::auth
