// TLS 1.3 with an external PSK on one non-blocking NVMe/TCP socket (NVMe/TCP 3.6.1, TP 8011),
// over OpenSSL's libssl. Both sides use it: the target as the server, the host as the client.
//
// Reads come straight from the socket (a socket BIO with read-ahead). Writes go through a
// queue of ciphertext: the plaintext of many small PDUs is packed into full records, and
// the ciphertext leaves with one send() per batch, not one syscall per record. The PSK is the
// TLS PSK derived from the configured one (tls_psk.h); the cipher suite follows its hash.
#pragma once
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nvmf/auth/auth_crypto.h"
#include "nvmf/wire/output_stream.h"

namespace nds::nvmf::tls {

// What a server finds for a PSK identity: the TLS PSK and its hash, or nothing (refused).
struct PskMatch {
  bool found = false;
  auth::Hash hash = auth::Hash::Sha256;
  auth::SecretBytes psk;
};
using PskLookup = std::function<PskMatch(const std::string& identity)>;

class TlsChannel {
 public:
  // The host: offers `identity` with `psk` (a TLS PSK of hash `hash`'s length).
  static std::unique_ptr<TlsChannel> client(int fd, std::string identity, auth::Hash hash, auth::SecretBytes psk);
  // The target: finds the PSK for the identity the client offers.
  static std::unique_ptr<TlsChannel> server(int fd, PskLookup lookup);
  ~TlsChannel();
  TlsChannel(const TlsChannel&) = delete;
  TlsChannel& operator=(const TlsChannel&) = delete;

  // Drives the handshake: 1 done, 0 waiting for the socket, -EACCES refused (the message
  // in error()), another negative errno when the socket failed.
  int handshake();
  bool established() const { return established_; }
  // Up to n bytes of plaintext: > 0 bytes, -EAGAIN nothing yet, 0 the peer closed, < 0 failed.
  long read(void* buf, size_t n);
  // Encrypts what `out` holds and sends what the socket takes: 0 (more may remain, then
  // pending() is true), or a negative errno.
  int send(OutputStream& out);
  // Ciphertext not yet taken by the socket.
  bool pending() const { return cipher_pos_ < cipher_.size(); }
  const std::string& error() const { return error_; }
  // Server: the identity the client authenticated with.
  const std::string& identity() const { return identity_; }
  const char* cipher_name() const;

 private:
  explicit TlsChannel(int fd) : fd_(fd) {}
  bool setup(bool server);
  int flush_cipher();
  int fail(int code, std::string message);
  static int find_psk(SSL* ssl, const unsigned char* identity, size_t length, SSL_SESSION** session);
  static int use_psk(SSL* ssl, const EVP_MD* md, const unsigned char** id, size_t* idlen, SSL_SESSION** session);

  int fd_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  BIO* wbio_ = nullptr;  // owned by ssl_
  bool established_ = false;
  std::string identity_;
  auth::Hash hash_ = auth::Hash::Sha256;
  auth::SecretBytes psk_;  // client: until the handshake ends
  PskLookup lookup_;
  std::string error_;
  std::vector<uint8_t> plain_;   // small PDUs packed into one record
  std::vector<uint8_t> cipher_;  // records the socket has not yet taken
  size_t cipher_pos_ = 0;
};

}  // namespace nds::nvmf::tls
