// Key material that is wiped when it goes: every copy the auth code keeps of a secret (a
// DH-HMAC-CHAP key, a PSK, a DH private value or shared secret) lives in one of these, so
// that removing a key, or ending a transaction, leaves no copy behind in the heap.
#pragma once
#include <openssl/crypto.h>

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace nds::nvmf::auth {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t n) : bytes_(n) {}
  SecretBytes(const uint8_t* data, size_t n) : bytes_(data, data + n) {}
  SecretBytes(const SecretBytes&) = default;
  SecretBytes& operator=(const SecretBytes& other) {
    if (this != &other) {
      wipe();
      bytes_ = other.bytes_;
    }
    return *this;
  }
  SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) { other.bytes_.clear(); }
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
      wipe();
      bytes_ = std::move(other.bytes_);
      other.bytes_.clear();
    }
    return *this;
  }
  ~SecretBytes() { wipe(); }

  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  // The bytes as text (a key's printed form read from a file), valid while this lives.
  std::string_view view() const { return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()}; }
  void resize(size_t n) {
    // Growing may move the buffer: wipe the old one first by copying through a fresh one.
    SecretBytes grown(n);
    std::copy(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(std::min(n, bytes_.size())), grown.bytes_.begin());
    *this = std::move(grown);
  }
  bool operator==(const SecretBytes& other) const {
    return bytes_.size() == other.bytes_.size() && CRYPTO_memcmp(bytes_.data(), other.bytes_.data(), bytes_.size()) == 0;
  }
  // Constant time, against bytes on the wire.
  bool equals(const uint8_t* other, size_t n) const { return bytes_.size() == n && CRYPTO_memcmp(bytes_.data(), other, n) == 0; }
  void wipe() {
    if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
    bytes_.clear();
  }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace nds::nvmf::auth
