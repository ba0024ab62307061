// Splits a byte stream into top-level JSON values the way SPDK's server reads it: a value
// may span writes or share one with the next, with or without newlines between. It only
// finds where each value ends (strings and escapes respected); JSON.parse checks the rest.

/** A value larger than this is refused and the connection closed. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

export type FrameResult = { texts: string[]; error?: string };

export class JsonFramer {
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #depth = 0;
  #inString = false;
  #escaped = false;
  #maxBytes: number;

  constructor(maxBytes = MAX_REQUEST_BYTES) {
    this.#maxBytes = maxBytes;
  }

  /** Feeds bytes; returns the complete values, or an error after which the stream is unusable. */
  push(chunk: Buffer): FrameResult {
    const texts: string[] = [];
    let start = 0;
    let backslash = -2; // where the next backslash is (-1: none in this chunk; -2: not looked yet)
    for (let i = 0; i < chunk.length; i++) {
      if (this.#inString) {
        if (this.#escaped) {
          this.#escaped = false;
          continue;
        }
        // Jump to the string's next quote or backslash (native searches, not a byte loop).
        if (backslash !== -1 && backslash < i) backslash = chunk.indexOf(0x5c, i);
        const quote = chunk.indexOf(0x22, i);
        if (backslash !== -1 && (quote === -1 || backslash < quote)) {
          this.#escaped = true;
          i = backslash;
        } else if (quote !== -1) {
          this.#inString = false;
          i = quote;
        } else {
          i = chunk.length; // the string goes on in the next chunk
        }
        continue;
      }
      const c = chunk[i]!;
      if (this.#depth === 0) {
        if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
          start = i + 1;
          continue;
        }
        if (c !== 0x7b && c !== 0x5b) return { texts, error: `a JSON-RPC message must be an object or an array, got byte 0x${c.toString(16)}` };
      }
      if (c === 0x22) this.#inString = true;
      else if (c === 0x7b || c === 0x5b) this.#depth++;
      else if (c === 0x7d || c === 0x5d) {
        this.#depth--;
        if (this.#depth === 0) {
          const tail = chunk.subarray(start, i + 1);
          if (this.#pendingBytes + tail.length > this.#maxBytes) return { texts, error: 'request larger than 1 MiB' };
          this.#pending.push(tail);
          texts.push(Buffer.concat(this.#pending).toString('utf8'));
          this.#pending = [];
          this.#pendingBytes = 0;
          start = i + 1;
        }
      }
    }
    if (this.#depth > 0 && start < chunk.length) {
      const rest = chunk.subarray(start);
      this.#pendingBytes += rest.length;
      if (this.#pendingBytes > this.#maxBytes) return { texts, error: 'request larger than 1 MiB' };
      this.#pending.push(Buffer.from(rest)); // copy: the socket reuses its chunk
    }
    return { texts };
  }
}
