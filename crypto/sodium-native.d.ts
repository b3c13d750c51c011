// The part of sodium-native's API that crypto/ uses (the package ships no types of its own;
// @types/sodium-native describes an older major version).
declare module 'sodium-native' {
  const sodium: {
    crypto_sign_seed_keypair: (pk: Uint8Array, sk: Uint8Array, seed: Uint8Array) => void
    crypto_sign_detached: (sig: Uint8Array, m: Uint8Array, sk: Uint8Array) => void
    crypto_sign_verify_detached: (sig: Uint8Array, m: Uint8Array, pk: Uint8Array) => boolean
    /** Throws unless both p and q decode to points on the curve. */
    crypto_core_ed25519_add: (r: Uint8Array, p: Uint8Array, q: Uint8Array) => void
    randombytes_buf: (buf: Uint8Array) => void
    crypto_box_SEALBYTES: number
    /** Throws unless pk is an ed25519 key that maps to a Montgomery point (not small order). */
    crypto_sign_ed25519_pk_to_curve25519: (x25519pk: Uint8Array, ed25519pk: Uint8Array) => void
    crypto_sign_ed25519_sk_to_curve25519: (x25519sk: Uint8Array, ed25519sk: Uint8Array) => void
    crypto_scalarmult_base: (q: Uint8Array, n: Uint8Array) => void
    crypto_box_seal: (c: Uint8Array, m: Uint8Array, pk: Uint8Array) => void
    /** False when the box was not sealed to pk or was altered. */
    crypto_box_seal_open: (m: Uint8Array, c: Uint8Array, pk: Uint8Array, sk: Uint8Array) => boolean
  }
  export default sodium
}
