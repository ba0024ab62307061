#include "nvmf/auth/key_format.h"

#include <array>
#include <cstring>

namespace nds::nvmf::auth {
namespace {

constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr auto kCrcTable = make_crc_table();

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// "<prefix>:xx:<base64>:" -> the hash field and the decoded bytes checked against their CRC.
Status parse_keyed(std::string_view text, std::string_view prefix, const char* what, uint8_t max_hash, ParsedKey* out) {
  const auto bad = [what](const std::string& why) { return Status::error(-EINVAL, std::string(what) + " " + why); };
  if (text.size() < prefix.size() + 5 || text.substr(0, prefix.size()) != prefix || text[prefix.size()] != ':')
    return bad("must look like " + std::string(prefix) + ":xx:<base64>:");
  std::string_view rest = text.substr(prefix.size() + 1);
  if (rest.size() < 4 || rest[2] != ':' || rest.back() != ':') return bad("must look like " + std::string(prefix) + ":xx:<base64>:");
  const char h0 = rest[0], h1 = rest[1];
  if (h0 != '0' || h1 < '0' || h1 > '9' || static_cast<uint8_t>(h1 - '0') > max_hash)
    return bad("has an unknown hash '" + std::string(rest.substr(0, 2)) + "'");
  const uint8_t hash = static_cast<uint8_t>(h1 - '0');
  SecretBytes decoded;
  if (!base64_decode(rest.substr(3, rest.size() - 4), &decoded)) return bad("is not valid base64");
  if (decoded.size() < 4) return bad("is too short");
  const size_t key_len = decoded.size() - 4;
  const bool length_ok = key_len == 32 || key_len == 48 || (key_len == 64 && max_hash == 3);
  if (!length_ok) return bad("has a key of " + std::to_string(key_len) + " bytes");
  const uint8_t* crc_bytes = decoded.data() + key_len;
  const uint32_t stored = static_cast<uint32_t>(crc_bytes[0]) | static_cast<uint32_t>(crc_bytes[1]) << 8 |
                          static_cast<uint32_t>(crc_bytes[2]) << 16 | static_cast<uint32_t>(crc_bytes[3]) << 24;
  if (stored != crc32_ieee(decoded.data(), key_len)) return bad("fails its CRC-32 check (mistyped or damaged)");
  out->hash = hash;
  out->key = SecretBytes(decoded.data(), key_len);
  return Status::ok();
}

std::string format_keyed(std::string_view prefix, uint8_t hash, const SecretBytes& key) {
  SecretBytes with_crc(key.size() + 4);
  std::memcpy(with_crc.data(), key.data(), key.size());
  const uint32_t crc = crc32_ieee(key.data(), key.size());
  for (int i = 0; i < 4; ++i) with_crc.data()[key.size() + static_cast<size_t>(i)] = static_cast<uint8_t>(crc >> (8 * i));
  std::string out(prefix);
  out += ':';
  out += '0';
  out += static_cast<char>('0' + hash);
  out += ':';
  out += base64_encode(with_crc.data(), with_crc.size());
  out += ':';
  return out;
}

}  // namespace

uint32_t crc32_ieee(const uint8_t* data, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) c = kCrcTable[(c ^ data[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

std::string base64_encode(const uint8_t* data, size_t n) {
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t b0 = data[i], b1 = i + 1 < n ? data[i + 1] : 0, b2 = i + 2 < n ? data[i + 2] : 0;
    const uint32_t v = b0 << 16 | b1 << 8 | b2;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < n ? kAlphabet[v & 63] : '=';
  }
  return out;
}

bool base64_decode(std::string_view text, SecretBytes* out) {
  if (text.size() % 4 != 0) return false;
  SecretBytes bytes(text.size() / 4 * 3);
  size_t len = 0;
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + static_cast<size_t>(k)];
      if (c == '=' && last && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return false;  // data after padding
      v[k] = base64_value(c);
      if (v[k] < 0) return false;
    }
    const uint32_t word = static_cast<uint32_t>(v[0]) << 18 | static_cast<uint32_t>(v[1]) << 12 | static_cast<uint32_t>(v[2]) << 6 | static_cast<uint32_t>(v[3]);
    bytes.data()[len++] = static_cast<uint8_t>(word >> 16);
    if (pad < 2) bytes.data()[len++] = static_cast<uint8_t>(word >> 8);
    if (pad < 1) bytes.data()[len++] = static_cast<uint8_t>(word);
  }
  bytes.resize(len);
  *out = std::move(bytes);
  return true;
}

Status parse_dhchap_secret(std::string_view text, ParsedKey* out) { return parse_keyed(text, "DHHC-1", "DH-HMAC-CHAP secret", 3, out); }
std::string format_dhchap_secret(uint8_t hash, const SecretBytes& key) { return format_keyed("DHHC-1", hash, key); }
Status parse_tls_psk(std::string_view text, ParsedKey* out) { return parse_keyed(text, "NVMeTLSkey-1", "TLS PSK", 2, out); }
std::string format_tls_psk(uint8_t hash, const SecretBytes& psk) { return format_keyed("NVMeTLSkey-1", hash, psk); }

}  // namespace nds::nvmf::auth
