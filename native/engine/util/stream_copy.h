// Copies that bypass the cache ("streaming" or non-temporal stores). A write into a memory
// region much larger than the cache would otherwise first read every destination line
// (read-for-ownership) and then evict something useful; streaming stores skip both, which
// makes a random 4 KiB write into a large malloc bdev about twice as fast here.
//
// Streaming stores are weakly ordered: another CPU may see them after later ordinary
// stores. Whoever publishes the data (completes the I/O) must call store_fence() first;
// Thread::fence_before_deferred() does that once per batch of deferred completions.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace nds {

// dst 16-byte aligned and len a multiple of 64 (any block-aligned bdev offset and length).
inline void stream_copy(void* dst, const void* src, size_t len) {
#if defined(__x86_64__)
  auto* d = static_cast<__m128i*>(dst);
  const auto* s = static_cast<const __m128i*>(src);
  for (size_t i = 0; i < len / 16; i += 4) {
    __m128i a = _mm_loadu_si128(s + i);
    __m128i b = _mm_loadu_si128(s + i + 1);
    __m128i c = _mm_loadu_si128(s + i + 2);
    __m128i e = _mm_loadu_si128(s + i + 3);
    _mm_stream_si128(d + i, a);
    _mm_stream_si128(d + i + 1, b);
    _mm_stream_si128(d + i + 2, c);
    _mm_stream_si128(d + i + 3, e);
  }
#else
  std::memcpy(dst, src, len);
#endif
}

// Same alignment rules as stream_copy.
inline void stream_zero(void* dst, size_t len) {
#if defined(__x86_64__)
  auto* d = static_cast<__m128i*>(dst);
  const __m128i zero = _mm_setzero_si128();
  for (size_t i = 0; i < len / 16; ++i) _mm_stream_si128(d + i, zero);
#else
  std::memset(dst, 0, len);
#endif
}

// Orders earlier streaming stores before any later store (x86 SFENCE).
inline void store_fence() {
#if defined(__x86_64__)
  _mm_sfence();
#else
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

// Whether a region of `bytes` is large enough that its writes should stream: more than
// the last-level cache could hold, so cached writes would only evict other data.
bool worth_streaming(uint64_t bytes);
// The size above which worth_streaming says yes: the largest cache of CPU 0.
uint64_t streaming_threshold_bytes();

}  // namespace nds
