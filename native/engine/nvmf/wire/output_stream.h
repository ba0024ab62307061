// Bytes queued for a socket, without copying large data: PDU headers and small PDUs are
// bytes in a buffer, while read data stays in its I/O buffer and is spliced in at its place
// in the stream. The socket gathers both with one sendmsg, and each spliced buffer goes
// back to its pool once the kernel has taken all of it.
#pragma once
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "nvmf/wire/tcp_pdu.h"

namespace nds::nvmf {

// Where I/O buffers come from (the engine's DMA pools; plain heap memory in tools), so
// that spliced buffers go back where they came from.
class BufferSource {
 public:
  virtual ~BufferSource() = default;
  virtual void* get(uint32_t length) = 0;
  virtual void put(void* buffer, uint32_t length) = 0;
};

class OutputStream {
 public:
  explicit OutputStream(BufferSource* buffers) : buffers_(buffers) {}
  ~OutputStream() { clear(); }
  OutputStream(const OutputStream&) = delete;
  OutputStream& operator=(const OutputStream&) = delete;

  // The bytes part: append to it; spliced data goes in at its current end.
  std::vector<uint8_t>& bytes() { return bytes_; }
  // `data` (length bytes inside `buffer`, a buffer from the pool) follows the bytes
  // appended so far; the stream owns `buffer` from now on.
  void splice(const uint8_t* data, uint32_t length, void* buffer, uint32_t buffer_length);
  // A whole PDU whose data is spliced, not copied: header (and header digest) as bytes,
  // then `data`, then its digest if the flags ask for one. `buffer` as for splice()
  // (nullptr: the data belongs to the caller, who keeps it until it is sent).
  void append_pdu_spliced(PduType type, uint8_t flags, uint8_t* header, uint32_t hlen, const uint8_t* data,
                          uint32_t length, void* buffer = nullptr, uint32_t buffer_length = 0);
  // Sends what it can to a non-blocking socket: 0 when all is sent or the socket is full,
  // -errno when the socket failed.
  int send_to(int fd);

  bool empty() const { return bytes_pos_ == bytes_.size() && next_splice_ == splices_.size(); }
  // Up to `max` iovecs describing what is not yet sent, in stream order; returns the count.
  int gather(iovec* iov, int max) const;
  // The first `n` unsent bytes were sent: return spliced buffers that are done.
  void consume(size_t n);
  // Everything unsent as one vector (tests and the fuzzer); the stream is then empty.
  std::vector<uint8_t> take();
  // Drops what is unsent and returns every spliced buffer.
  void clear();

 private:
  struct Splice {
    size_t at;  // position in bytes_ the data goes before
    const uint8_t* data;
    uint32_t length;
    void* buffer;
    uint32_t buffer_length;
  };
  void release(Splice& s);
  void compact();
  // Sent bytes and spliced buffers kept before compacting a stream that never empties.
  static constexpr size_t kCompactBytes = 256 * 1024;
  static constexpr size_t kCompactSplices = 256;

  BufferSource* buffers_;
  std::vector<uint8_t> bytes_;
  std::vector<Splice> splices_;
  size_t bytes_pos_ = 0;     // bytes_[0, bytes_pos_) are sent
  size_t next_splice_ = 0;   // splices before it are sent and released
  size_t splice_sent_ = 0;   // bytes of splices_[next_splice_] sent
};

}  // namespace nds::nvmf
