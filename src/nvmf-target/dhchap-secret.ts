// DH-HMAC-CHAP secrets in the NVMe specification's form, DHHC-1:xx:<base64(key || CRC-32)>:,
// as nvme-cli's gen-dhchap-key writes them: xx is the hash that transforms the key (00
// none, 01 SHA-256, 02 SHA-384, 03 SHA-512), the key is 32, 48 or 64 bytes.
import { randomBytes } from 'node:crypto';

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** The secret text for `key`. */
export function formatDhchapSecret(key: Uint8Array, hash: 0 | 1 | 2 | 3 = 1): string {
  if (![32, 48, 64].includes(key.length)) throw new RangeError(`a DH-HMAC-CHAP key is 32, 48 or 64 bytes, got ${key.length}`);
  if (![0, 1, 2, 3].includes(hash)) throw new RangeError(`hash must be 0, 1, 2 or 3, got ${String(hash)}`);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(key));
  return `DHHC-1:0${hash}:${Buffer.concat([Buffer.from(key), crc]).toString('base64')}:`;
}

/** A new random secret: `length` bytes, transformed with SHA-256 (01) unless told. */
export function generateDhchapSecret(length: 32 | 48 | 64 = 32, hash: 0 | 1 | 2 | 3 = 1): string {
  return formatDhchapSecret(randomBytes(length), hash);
}

/**
 * A configured TLS PSK in the NVMe/TCP interchange form, NVMeTLSkey-1:xx:<base64(psk ||
 * CRC-32)>:, as nvme-cli's gen-tls-key writes it: xx is the hash that makes the retained
 * PSK (00 none, 01 SHA-256, 02 SHA-384); 32 bytes pick TLS_AES_128_GCM_SHA256, 48 bytes
 * TLS_AES_256_GCM_SHA384.
 */
export function formatTlsPsk(psk: Uint8Array, hash: 0 | 1 | 2 = psk.length === 48 ? 2 : 1): string {
  if (![32, 48].includes(psk.length)) throw new RangeError(`a TLS PSK is 32 or 48 bytes, got ${psk.length}`);
  if (![0, 1, 2].includes(hash)) throw new RangeError(`hash must be 0, 1 or 2, got ${String(hash)}`);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(psk));
  return `NVMeTLSkey-1:0${hash}:${Buffer.concat([Buffer.from(psk), crc]).toString('base64')}:`;
}

/** A new random TLS PSK of `length` bytes. */
export function generateTlsPsk(length: 32 | 48 = 32): string {
  return formatTlsPsk(randomBytes(length));
}
