import t from 'tap'
import { mkdtempSync, chmodSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  Ed25519Signer, generateSeed, publicKeyFromSeed, signWithNoble, verify, verifyRaw, signingBytes,
  merkleRoot, merkleProof, verifyMerkleProof, sha256, writeKeyFile, readKeyFile
} from '../../crypto/index.js'
import { fromHex, toHex, utf8 } from '../../codec/index.js'

const seed = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')
const pub = publicKeyFromSeed(seed)

t.test('RFC 8032 test vector 1: libsodium signer and noble signer give its signature', async t => {
  t.equal(toHex(pub), 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')
  const sig = new Ed25519Signer(seed).signRaw(new Uint8Array(0))
  t.equal(toHex(sig), 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b')
  t.ok(verifyRaw(pub, new Uint8Array(0), sig))
  t.equal(toHex(signWithNoble('tx', 'c', new Uint8Array(0), seed)), toHex(new Ed25519Signer(seed).sign('tx', 'c', new Uint8Array(0))))
})

t.test('native and noble signatures agree and cross-verify', async t => {
  const body = utf8('consent grant')
  const a = new Ed25519Signer(seed).sign('tx', 'chain-a', body)
  const b = signWithNoble('tx', 'chain-a', body, seed)
  t.same(a, b, 'deterministic signatures are byte-identical')
  t.ok(verify('tx', 'chain-a', body, pub, a))
})

t.test('signature edge cases', async t => {
  const body = utf8('hello')
  const sig = signWithNoble('tx', 'chain-a', body, seed)
  const other = publicKeyFromSeed(generateSeed())
  t.notOk(verify('tx', 'chain-a', body, other, sig), 'wrong key')
  t.notOk(verify('tx', 'chain-b', body, pub, sig), 'wrong chain id')
  t.notOk(verify('prevote', 'chain-a', body, pub, sig), 'wrong domain tag')
  t.notOk(verify('tx', 'chain-a', utf8('hellp'), pub, sig), 'tampered body')
  const flipped = sig.slice(); flipped[10] ^= 1
  t.notOk(verify('tx', 'chain-a', body, pub, flipped), 'tampered signature')
  t.notOk(verify('tx', 'chain-a', body, pub, sig.subarray(0, 63)), 'short signature')
  t.notOk(verify('tx', 'chain-a', body, pub.subarray(0, 31), sig), 'short key')
  // Malleability: S + L verifies under lax rules; the strict rule refuses it.
  const L = (1n << 252n) + 27742317777372353535851937790883648493n
  let s = 0n
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i])
  let sPlusL = s + L
  const mal = sig.slice()
  for (let i = 32; i < 64; i++) { mal[i] = Number(sPlusL & 0xffn); sPlusL >>= 8n }
  t.notOk(verify('tx', 'chain-a', body, pub, mal), 'S >= L refused')
  // Small-order public key (the identity point) with a signature R = identity, S = 0.
  const identity = fromHex('0100000000000000000000000000000000000000000000000000000000000000')
  const forged = new Uint8Array(64); forged.set(identity, 0)
  t.notOk(verifyRaw(identity, utf8('anything'), forged), 'small-order key refused')
  // Non-canonical key encoding: y = p (all 0xff…7f with low byte 0xed).
  const nonCanonical = fromHex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')
  t.notOk(verifyRaw(nonCanonical, utf8('x'), sig), 'non-canonical key refused')
})

t.test('domain separation puts tag and chain id inside the signed bytes', async t => {
  const a = signingBytes('tx', 'c', utf8('x'))
  const b = signingBytes('tx', 'cx', new Uint8Array(0))
  t.not(toHex(a), toHex(b), 'length prefixes keep chain id and body apart')
})

t.test('RFC 6962 Merkle tree', async t => {
  t.equal(toHex(merkleRoot([])), toHex(sha256()), 'empty tree')
  // RFC 6962 reference: leaf hash of the empty string
  t.equal(toHex(merkleRoot([new Uint8Array(0)])), '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d')
  let checked = 0
  for (let n = 1; n <= 17; n++) {
    const leaves = Array.from({ length: n }, (_, i) => utf8(`leaf-${i}`))
    const root = merkleRoot(leaves)
    for (let i = 0; i < n; i++) {
      const proof = merkleProof(leaves, i)
      if (!verifyMerkleProof(leaves[i], i, n, proof, root)) t.fail(`proof n=${n} i=${i}`)
      if (verifyMerkleProof(utf8('forged'), i, n, proof, root)) t.fail(`forged leaf accepted n=${n} i=${i}`)
      if (n > 1 && verifyMerkleProof(leaves[i], (i + 1) % n, n, proof, root)) t.fail(`wrong index accepted n=${n} i=${i}`)
      checked++
    }
  }
  t.equal(checked, 153, 'every leaf of trees of 1..17 leaves proved, forgeries refused')
})

t.test('key files are 0600 and refused when readable by others', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'medchain-key-'))
  const path = join(dir, 'k.json')
  const written = writeKeyFile(path, seed)
  t.same(readKeyFile(path).publicKey, written.publicKey)
  chmodSync(path, 0o644)
  t.throws(() => readKeyFile(path), { code: 'KEYFILE_PERMISSIONS' })
  const bad = join(dir, 'bad.json')
  writeFileSync(bad, '{"type":"ed25519","seed":"zz","publicKey":"00"}', { mode: 0o600 })
  t.throws(() => readKeyFile(bad), { code: 'KEYFILE_MALFORMED' })
  t.throws(() => readKeyFile(join(dir, 'none.json')), { code: 'KEYFILE_MISSING' })
})
