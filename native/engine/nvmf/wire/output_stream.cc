#include "nvmf/wire/output_stream.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>


namespace nds::nvmf {

void OutputStream::splice(const uint8_t* data, uint32_t length, void* buffer, uint32_t buffer_length) {
  Splice s{bytes_.size(), data, length, buffer, buffer_length};
  if (length == 0) return release(s);  // nothing to send: done at once
  splices_.push_back(s);
}

void OutputStream::append_pdu_spliced(PduType type, uint8_t flags, uint8_t* header, uint32_t hlen,
                                      const uint8_t* data, uint32_t length, void* buffer, uint32_t buffer_length) {
  append_pdu_header(&bytes_, type, flags, header, hlen, length);
  splice(data, length, buffer, buffer_length);
  if (length > 0 && (flags & kFlagDataDigest)) append_data_digest(&bytes_, data, length);
}

int OutputStream::send_to(int fd) {
  constexpr int kIovecs = 256;  // per sendmsg: two per data PDU (header, data); IOV_MAX is 1024
  iovec iov[kIovecs];
  while (!empty()) {
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(gather(iov, kIovecs));
    ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
    if (n == 0) return 0;
    consume(static_cast<size_t>(n));
  }
  return 0;
}

void OutputStream::release(Splice& s) {
  if (s.buffer && buffers_) buffers_->put(s.buffer, s.buffer_length);
  s.buffer = nullptr;
}

int OutputStream::gather(iovec* iov, int max) const {
  int count = 0;
  size_t pos = bytes_pos_;
  size_t sent_of_splice = splice_sent_;
  for (size_t i = next_splice_; count < max; ++i) {
    const bool has_splice = i < splices_.size();
    const size_t run_end = has_splice ? splices_[i].at : bytes_.size();
    if (pos < run_end) {
      iov[count++] = {const_cast<uint8_t*>(bytes_.data() + pos), run_end - pos};
      pos = run_end;
      if (count == max) break;
    }
    if (!has_splice) break;
    const Splice& s = splices_[i];
    iov[count++] = {const_cast<uint8_t*>(s.data + sent_of_splice), s.length - sent_of_splice};
    sent_of_splice = 0;
  }
  return count;
}

void OutputStream::consume(size_t n) {
  while (n > 0) {
    const bool has_splice = next_splice_ < splices_.size();
    const size_t run_end = has_splice ? splices_[next_splice_].at : bytes_.size();
    if (bytes_pos_ < run_end) {
      size_t take = std::min(n, run_end - bytes_pos_);
      bytes_pos_ += take;
      n -= take;
      continue;
    }
    if (!has_splice) break;  // more than was queued: cannot happen with gather()'s iovecs
    Splice& s = splices_[next_splice_];
    size_t take = std::min<size_t>(n, s.length - splice_sent_);
    splice_sent_ += take;
    n -= take;
    if (splice_sent_ == s.length) {
      release(s);
      ++next_splice_;
      splice_sent_ = 0;
    }
  }
  if (empty()) {  // all sent: start over at the front of the buffers
    bytes_.clear();
    splices_.clear();
    bytes_pos_ = 0;
    next_splice_ = 0;
  } else if (bytes_pos_ >= kCompactBytes || next_splice_ >= kCompactSplices) {
    compact();
  }
}

void OutputStream::compact() {
  // A socket that never drains completely must not keep its whole history.
  bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(bytes_pos_));
  splices_.erase(splices_.begin(), splices_.begin() + static_cast<std::ptrdiff_t>(next_splice_));
  for (Splice& s : splices_) s.at -= bytes_pos_;
  bytes_pos_ = 0;
  next_splice_ = 0;
}

std::vector<uint8_t> OutputStream::take() {
  std::vector<uint8_t> all;
  iovec iov[64];
  while (!empty()) {
    int count = gather(iov, 64);
    size_t total = 0;
    for (int i = 0; i < count; ++i) {
      auto* p = static_cast<const uint8_t*>(iov[i].iov_base);
      all.insert(all.end(), p, p + iov[i].iov_len);
      total += iov[i].iov_len;
    }
    consume(total);
  }
  return all;
}

void OutputStream::clear() {
  for (size_t i = next_splice_; i < splices_.size(); ++i) release(splices_[i]);
  bytes_.clear();
  splices_.clear();
  bytes_pos_ = 0;
  next_splice_ = 0;
  splice_sent_ = 0;
}

}  // namespace nds::nvmf
