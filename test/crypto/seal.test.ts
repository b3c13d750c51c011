import t from 'tap'
import { createPrivateKey, createPublicKey } from 'node:crypto'
import {
  generateSeed, publicKeyFromSeed, sealTo, openSealed, sealText, openSealedText, x25519PublicKey, x25519KeyPair,
  SEAL_OVERHEAD, SEAL_PAD_BLOCK, SealError
} from '../../crypto/index.js'
import { fromHex, toHex, utf8 } from '../../codec/index.js'

const patientSeed = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60') // RFC 8032 test 1
const patient = publicKeyFromSeed(patientSeed)
const orgSeed = fromHex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb') // RFC 8032 test 2
const org = publicKeyFromSeed(orgSeed)

t.test('ed25519 to X25519: libsodium\'s published vector (test/default/ed25519_convert)', async t => {
  const seed = fromHex('421151a459faeade3d247115f94aedae42318124095afabe4d1451a559faedee')
  const { publicKey, secretKey } = x25519KeyPair(seed)
  t.equal(toHex(publicKey), 'f1814f0e8ff1043d8a44d25babff3cedcae6c22c3edaa48f857ae70de2baae50')
  t.equal(toHex(secretKey), '8052030376d47112be7f73ed7a019293dd12ad910b654455798b4667d73de166')
})

t.test('ed25519 to X25519: the public key is the birational map u = (1 + y) / (1 - y) of RFC 7748 §4.1', async t => {
  const p = 2n ** 255n - 19n
  const pow = (b: bigint, e: bigint): bigint => { let r = 1n; b %= p; while (e > 0n) { if ((e & 1n) === 1n) r = r * b % p; b = b * b % p; e >>= 1n } return r }
  const le = (b: Uint8Array): bigint => BigInt('0x' + Buffer.from(b).reverse().toString('hex'))
  for (const key of [patient, org, publicKeyFromSeed(generateSeed())]) {
    const y = le(key) & ((1n << 255n) - 1n)
    const u = (1n + y) * pow((1n - y + p) % p, p - 2n) % p
    t.equal(le(x25519PublicKey(key)), u, toHex(key))
  }
})

t.test('ed25519 to X25519: the converted secret key gives the converted public key in OpenSSL (node:crypto)', async t => {
  for (const seed of [patientSeed, orgSeed, generateSeed()]) {
    const { publicKey, secretKey } = x25519KeyPair(seed)
    const der = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), secretKey])
    const spki = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' })
    t.equal(toHex(spki.subarray(-32)), toHex(publicKey))
    t.equal(toHex(publicKey), toHex(x25519PublicKey(publicKeyFromSeed(seed))))
  }
})

t.test('seal and open: round trip, padded to 32 bytes, a fresh ephemeral key each time', async t => {
  for (const text of ['', 'unconscious in the emergency room', 'é'.repeat(40), 'x'.repeat(31), 'x'.repeat(32)]) {
    const box = sealTo(patient, utf8(text))
    t.equal(box.length, SEAL_OVERHEAD + Math.ceil((utf8(text).length + 1) / SEAL_PAD_BLOCK) * SEAL_PAD_BLOCK, `length of ${text.length} chars`)
    t.equal(Buffer.from(openSealed(box, patientSeed)!).toString('utf8'), text)
  }
  t.not(toHex(sealTo(patient, utf8('same'))), toHex(sealTo(patient, utf8('same'))), 'two seals of one text differ')
})

t.test('a wrong key cannot open; an altered box does not open', async t => {
  const box = sealTo(patient, utf8('reason'))
  t.equal(openSealed(box, orgSeed), null, 'another party\'s key')
  t.equal(openSealed(box, generateSeed()), null, 'a fresh key')
  for (const i of [0, 31, 32, 47, 48, box.length - 1]) {
    const altered = box.slice(); altered[i] ^= 1
    t.equal(openSealed(altered, patientSeed), null, `byte ${i} flipped`)
  }
  t.equal(openSealed(box.subarray(0, SEAL_OVERHEAD), patientSeed), null, 'too short')
})

t.test('sealText: one box per recipient, sorted by key; each opens its own; a stranger opens none', async t => {
  const sealed = sealText('trauma bay 3', [patient, org, patient])
  t.equal(sealed.sealed.length, 2, 'a repeated recipient counts once')
  t.same(sealed.sealed.map(b => toHex(b.to)), [toHex(patient), toHex(org)].sort())
  t.equal(openSealedText(sealed, patientSeed), 'trauma bay 3')
  t.equal(openSealedText(sealed, orgSeed), 'trauma bay 3')
  t.equal(openSealedText(sealed, generateSeed()), null)
  // A box listed under the patient's key but sealed to someone else opens for nobody under that name.
  const swapped = { sealed: [{ to: patient, box: sealTo(org, utf8('x')) }] }
  t.equal(openSealedText(swapped, patientSeed), null)
  t.throws(() => sealText('x', []), SealError)
  t.throws(() => sealText('x', [1, 2, 3, 4, 5].map(() => publicKeyFromSeed(generateSeed()))), { code: 'SEAL_TOO_MANY_RECIPIENTS' })
  t.throws(() => sealTo(new Uint8Array(32), utf8('x')), { code: 'SEAL_BAD_KEY' }, 'a small-order key has no X25519 key to seal to')
})
