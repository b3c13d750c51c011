// A local certificate authority for development and test consortia: one CA per testnet
// folder, a server certificate per node (SANs 127.0.0.1, ::1, localhost and the node's
// host) and client certificates for mTLS. Production hospitals bring their own PKI and
// name the files in config.toml; nothing here runs inside a node.
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect polyfill first.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { webcrypto } from 'node:crypto'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { join } from 'node:path'

x509.cryptoProvider.set(webcrypto as unknown as Crypto)

// ECDSA P-256 with SHA-256: accepted by every TLS stack a hospital system runs.
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const
const DAY_MS = 86_400_000

export interface CaFiles { cert: string, key: string }
export interface PemPair { cert: string, key: string }

function serial (): string {
  // Positive 128-bit serial (leading byte below 0x80), as RFC 5280 asks.
  const b = webcrypto.getRandomValues(new Uint8Array(16))
  b[0] &= 0x7f
  return Buffer.from(b).toString('hex')
}

async function keyPem (key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY') + '\n'
}

async function importKey (pem: string): Promise<CryptoKey> {
  return await webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decode(pem)[0], ALG, false, ['sign'])
}

function validity (days: number): { notBefore: Date, notAfter: Date } {
  // A minute back so a peer whose clock is slightly behind still accepts a fresh certificate.
  const now = Date.now()
  return { notBefore: new Date(now - 60_000), notAfter: new Date(now + days * DAY_MS) }
}

/** A self-signed CA certificate and its key, PEM. */
export async function createCa (name: string, days = 365): Promise<PemPair> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    ...validity(days),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)
    ]
  })
  return { cert: cert.toString('pem') + '\n', key: await keyPem(keys.privateKey) }
}

/**
 * A certificate signed by `ca`: `server` with the given hosts as SANs (IP or DNS name),
 * `client` for mTLS (extended key usage clientAuth).
 */
export async function issueCert (ca: PemPair, opts: { commonName: string, usage: 'server' | 'client', hosts?: string[], days?: number }): Promise<PemPair> {
  const caCert = new x509.X509Certificate(ca.cert)
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])
  const hosts = [...new Set(opts.hosts ?? [])]
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([opts.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(caCert)
  ]
  if (hosts.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension(hosts.map(h => isIP(h) !== 0 ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h })))
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${opts.commonName}`,
    issuer: caCert.subject,
    ...validity(opts.days ?? 365),
    publicKey: keys.publicKey,
    signingKey: await importKey(ca.key),
    signingAlgorithm: ALG,
    extensions
  })
  return { cert: cert.toString('pem') + '\n', key: await keyPem(keys.privateKey) }
}

/** Writes a PEM pair; the key readable by its owner only. */
export function writePemPair (dir: string, base: string, pair: PemPair): CaFiles {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const files = { cert: join(dir, `${base}.pem`), key: join(dir, `${base}-key.pem`) }
  writeFileSync(files.cert, pair.cert)
  writeFileSync(files.key, pair.key, { mode: 0o600 })
  chmodSync(files.key, 0o600)
  return files
}

export function readPemPair (files: CaFiles): PemPair {
  return { cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8') }
}
