import { u64be, readU64be, utf8 } from '../codec/index.js'
import { Bucket } from './buckets.js'
import { StorageError } from './errors.js'

/** bucket byte + raw suffix. */
export function bucketKey (bucket: Bucket, suffix: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + suffix.length)
  out[0] = bucket
  out.set(suffix, 1)
  return out
}

/** bucket byte + big-endian height, so a range scan returns heights in numeric order. */
export function heightKey (bucket: Bucket, height: number): Uint8Array {
  return bucketKey(bucket, u64be(height))
}

export function heightFromKey (key: Uint8Array): number {
  if (key.length !== 9) throw new StorageError('STORE_CORRUPT', `height key of ${key.length} bytes, expected 9`, key)
  return readU64be(key, 1)
}

export function stringKey (bucket: Bucket, key: string): Uint8Array {
  return bucketKey(bucket, utf8(key))
}

const dec = new TextDecoder('utf-8', { fatal: true })
export function stringFromKey (key: Uint8Array): string {
  return decodeUtf8(key.subarray(1))
}

export function decodeUtf8 (bytes: Uint8Array): string {
  try {
    return dec.decode(bytes)
  } catch (err) {
    throw new StorageError('STORE_CORRUPT', 'stored key is not valid UTF-8', bytes, { cause: err })
  }
}

/**
 * Smallest key greater than every key that starts with `prefix`, for `lt` bounds of prefix scans:
 * increment the last byte that is not 0xff and drop what follows it.
 */
export function prefixUpperBound (prefix: Uint8Array): Uint8Array | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] !== 0xff) {
      const out = prefix.slice(0, i + 1)
      out[i]++
      return out
    }
  }
  return undefined
}

/** [gte, lt) bounds covering exactly one bucket. */
export function bucketRange (bucket: Bucket): { gte: Uint8Array, lt: Uint8Array } {
  return { gte: Uint8Array.of(bucket), lt: Uint8Array.of(bucket + 1) }
}
