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
  }
  export default sodium
}
