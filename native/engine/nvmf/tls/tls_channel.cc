#include "nvmf/tls/tls_channel.h"

#include <openssl/err.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace nds::nvmf::tls {

namespace {
constexpr size_t kRecordPlaintext = 16384;  // the TLS record limit
// Ciphertext queued before send() waits for the socket: bounds memory per connection.
constexpr size_t kCipherHighWater = 512 * 1024;
constexpr uint8_t kSuiteSha256[2] = {0x13, 0x01};  // TLS_AES_128_GCM_SHA256
constexpr uint8_t kSuiteSha384[2] = {0x13, 0x02};  // TLS_AES_256_GCM_SHA384

std::string openssl_reason() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no detail";
  char text[256];
  ERR_error_string_n(e, text, sizeof(text));
  return text;
}

// The write side's BIO: records go straight onto the channel's ciphertext queue, one copy,
// where a memory BIO would copy them twice and zero-fill its growth.
int sink_write(BIO* bio, const char* data, int length) {
  auto* queue = static_cast<std::vector<uint8_t>*>(BIO_get_data(bio));
  queue->insert(queue->end(), reinterpret_cast<const uint8_t*>(data), reinterpret_cast<const uint8_t*>(data) + length);
  return length;
}
long sink_ctrl(BIO*, int command, long, void*) { return command == BIO_CTRL_FLUSH ? 1 : 0; }
int sink_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}
const BIO_METHOD* sink_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "nds-tls-ciphertext");
    if (m) {
      BIO_meth_set_write(m, sink_write);
      BIO_meth_set_ctrl(m, sink_ctrl);
      BIO_meth_set_create(m, sink_create);
    }
    return m;
  }();
  return method;
}

// An external PSK as OpenSSL wants it: a TLS 1.3 session of the suite that matches its hash.
SSL_SESSION* psk_session(SSL* ssl, auth::Hash hash, const auth::SecretBytes& psk) {
  const SSL_CIPHER* cipher = SSL_CIPHER_find(ssl, hash == auth::Hash::Sha384 ? kSuiteSha384 : kSuiteSha256);
  if (!cipher) return nullptr;
  SSL_SESSION* s = SSL_SESSION_new();
  if (!s) return nullptr;
  if (!SSL_SESSION_set1_master_key(s, psk.data(), psk.size()) || !SSL_SESSION_set_cipher(s, cipher) ||
      !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
    SSL_SESSION_free(s);
    return nullptr;
  }
  return s;
}
}  // namespace

std::unique_ptr<TlsChannel> TlsChannel::client(int fd, std::string identity, auth::Hash hash, auth::SecretBytes psk) {
  std::unique_ptr<TlsChannel> c(new TlsChannel(fd));
  c->identity_ = std::move(identity);
  c->hash_ = hash;
  c->psk_ = std::move(psk);
  if (!c->setup(false)) return c;  // error() says why; handshake() reports it
  // Only the suite of the PSK's hash: a server choosing the other would find the PSK unusable.
  SSL_set_ciphersuites(c->ssl_, hash == auth::Hash::Sha384 ? "TLS_AES_256_GCM_SHA384" : "TLS_AES_128_GCM_SHA256");
  SSL_set_psk_use_session_callback(c->ssl_, use_psk);
  SSL_set_connect_state(c->ssl_);
  return c;
}

std::unique_ptr<TlsChannel> TlsChannel::server(int fd, PskLookup lookup) {
  std::unique_ptr<TlsChannel> c(new TlsChannel(fd));
  c->lookup_ = std::move(lookup);
  if (!c->setup(true)) return c;
  SSL_set_psk_find_session_callback(c->ssl_, find_psk);
  SSL_set_accept_state(c->ssl_);
  return c;
}

bool TlsChannel::setup(bool server) {
  ctx_ = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (!ctx_) return fail(-ENOMEM, "cannot make a TLS context: " + openssl_reason()), false;
  // TLS 1.3 only, the two suites NVMe/TCP names, no session tickets (every connection
  // authenticates with the PSK itself).
  SSL_CTX_set_min_proto_version(ctx_, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx_, TLS1_3_VERSION);
  SSL_CTX_set_ciphersuites(ctx_, "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256");
  SSL_CTX_set_num_tickets(ctx_, 0);
  SSL_CTX_set_read_ahead(ctx_, 1);
  SSL_CTX_set_default_read_buffer_len(ctx_, 64 * 1024);
  ssl_ = SSL_new(ctx_);
  if (!ssl_) return fail(-ENOMEM, "cannot make a TLS session: " + openssl_reason()), false;
  SSL_set_app_data(ssl_, this);
  BIO* rbio = BIO_new_socket(fd_, BIO_NOCLOSE);
  wbio_ = sink_method() ? BIO_new(sink_method()) : nullptr;
  if (wbio_) BIO_set_data(wbio_, &cipher_);
  if (!rbio || !wbio_) {
    BIO_free(rbio);
    BIO_free(wbio_);
    wbio_ = nullptr;
    return fail(-ENOMEM, "cannot make TLS buffers"), false;
  }
  SSL_set_bio(ssl_, rbio, wbio_);
  return true;
}

TlsChannel::~TlsChannel() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
}

int TlsChannel::fail(int code, std::string message) {
  if (error_.empty()) error_ = std::move(message);
  return code;
}

const char* TlsChannel::cipher_name() const {
  const SSL_CIPHER* c = ssl_ ? SSL_get_current_cipher(ssl_) : nullptr;
  return c ? SSL_CIPHER_standard_name(c) : "none";
}

int TlsChannel::use_psk(SSL* ssl, const EVP_MD*, const unsigned char** id, size_t* idlen, SSL_SESSION** session) {
  auto* self = static_cast<TlsChannel*>(SSL_get_app_data(ssl));
  *session = psk_session(ssl, self->hash_, self->psk_);
  if (!*session) return 0;
  *id = reinterpret_cast<const unsigned char*>(self->identity_.data());
  *idlen = self->identity_.size();
  return 1;
}

int TlsChannel::find_psk(SSL* ssl, const unsigned char* identity, size_t length, SSL_SESSION** session) {
  auto* self = static_cast<TlsChannel*>(SSL_get_app_data(ssl));
  *session = nullptr;
  self->identity_.assign(reinterpret_cast<const char*>(identity), length);
  PskMatch m = self->lookup_(self->identity_);
  if (!m.found) {
    self->fail(-EACCES, "no PSK for the identity the host offered");
    return 1;  // no session: the handshake fails with no shared key
  }
  *session = psk_session(ssl, m.hash, m.psk);
  return *session ? 1 : 0;
}

int TlsChannel::flush_cipher() {
  int rc = 0;
  while (cipher_pos_ < cipher_.size()) {
    ssize_t n = ::send(fd_, cipher_.data() + cipher_pos_, cipher_.size() - cipher_pos_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) rc = -errno;
      break;
    }
    cipher_pos_ += static_cast<size_t>(n);
  }
  if (cipher_pos_ == cipher_.size()) {
    cipher_.clear();
    cipher_pos_ = 0;
  } else if (cipher_pos_ >= kCipherHighWater) {  // a socket that never drains keeps no history
    cipher_.erase(cipher_.begin(), cipher_.begin() + static_cast<std::ptrdiff_t>(cipher_pos_));
    cipher_pos_ = 0;
  }
  return rc;
}

int TlsChannel::handshake() {
  if (!ssl_) return -EACCES;
  if (established_) return 1;
  ERR_clear_error();
  int rc = SSL_do_handshake(ssl_);
  int sent = flush_cipher();  // the handshake's own messages, and any alert
  if (rc == 1) {
    established_ = true;
    psk_.wipe();
    return sent < 0 ? sent : 1;
  }
  int e = SSL_get_error(ssl_, rc);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return sent < 0 ? sent : 0;
  if (e == SSL_ERROR_SYSCALL && errno != 0 && ERR_peek_error() == 0) return fail(-errno, std::string("TLS handshake: ") + std::strerror(errno));
  return fail(-EACCES, "TLS handshake failed (" + openssl_reason() + "): the PSK is unknown or does not match");
}

long TlsChannel::read(void* buf, size_t n) {
  ERR_clear_error();
  int rc = SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(n, INT32_MAX)));
  if (rc > 0) return rc;
  int e = SSL_get_error(ssl_, rc);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    int sent = flush_cipher();  // a key update may want an answer
    return sent < 0 ? sent : -EAGAIN;
  }
  if (e == SSL_ERROR_ZERO_RETURN) return 0;
  if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return errno != 0 ? -errno : 0;
  fail(-EPROTO, "TLS: " + openssl_reason());
  return -EPROTO;
}

int TlsChannel::send(OutputStream& out) {
  int rc = flush_cipher();
  if (rc < 0 || pending()) return rc;
  constexpr int kIovecs = 64;
  iovec iov[kIovecs];
  auto write_plain = [this](const void* data, size_t length) {
    // The memory BIO takes everything: SSL_write cannot return short here.
    return SSL_write(ssl_, data, static_cast<int>(length)) == static_cast<int>(length);
  };
  while (!out.empty() && cipher_.size() - cipher_pos_ < kCipherHighWater) {
    int count = out.gather(iov, kIovecs);
    size_t total = 0;
    for (int i = 0; i < count; ++i) {
      const auto* p = static_cast<const uint8_t*>(iov[i].iov_base);
      size_t len = iov[i].iov_len;
      total += len;
      // Small pieces (PDU headers, responses) share a record; large data goes as it is.
      if (plain_.size() + len <= kRecordPlaintext) {
        plain_.insert(plain_.end(), p, p + len);
        continue;
      }
      if (!plain_.empty() && !write_plain(plain_.data(), plain_.size())) return fail(-EPROTO, "TLS: " + openssl_reason());
      plain_.clear();
      if (len >= kRecordPlaintext / 2) {
        if (!write_plain(p, len)) return fail(-EPROTO, "TLS: " + openssl_reason());
      } else {
        plain_.assign(p, p + len);
      }
    }
    out.consume(total);
  }
  if (!plain_.empty()) {
    if (!write_plain(plain_.data(), plain_.size())) return fail(-EPROTO, "TLS: " + openssl_reason());
    plain_.clear();
  }
  return flush_cipher();
}

}  // namespace nds::nvmf::tls
