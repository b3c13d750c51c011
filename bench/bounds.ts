import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import * as ed from '@noble/ed25519'
import { Ed25519Signer, generateSeed, publicKeyFromSeed, signingBytes, signWithNoble, verifyRaw } from '../crypto/index.js'

/** The raw limits of this machine, measured in the same run as the cluster. */
export interface Bounds {
  /** The chain's verifier (crypto.verifyRaw: libsodium) per second on one core. */
  verifyPerSec: number
  /** Wall time per verify (includes time other processes take the core). */
  verifyUs: number
  /** CPU time per verify (process user+system): the fair unit for CPU-per-tx ratios on a shared machine. */
  verifyCpuUs: number
  /** @noble/ed25519 (pure JS) verifications per second, for reference. */
  nobleVerifyPerSec: number
  leveldb: {
    /** Entries written per second in sync (durable) batches. */
    entriesPerSec: number
    batchesPerSec: number
    batchEntries: number
    entryBytes: number
  }
  cores: number
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6

let lastCpuUsPerOp = 0

/** Runs fn in a loop for about ms milliseconds; returns operations per wall second (CPU µs per op in lastCpuUsPerOp). */
function rate (ms: number, fn: () => void, chunk = 100): number {
  let ops = 0
  const cpu0 = process.cpuUsage()
  const t0 = now()
  let t = t0
  while (t - t0 < ms) {
    for (let i = 0; i < chunk; i++) fn()
    ops += chunk
    t = now()
  }
  const cpu = process.cpuUsage(cpu0)
  lastCpuUsPerOp = (cpu.user + cpu.system) / ops
  return ops / ((t - t0) / 1000)
}

/** The chain's verifier (crypto.verifyRaw, libsodium) on ~250-byte messages on this (single-threaded) core. */
export function measureVerify (ms = 1000): { perSec: number, us: number, cpuUs: number } {
  const signer = new Ed25519Signer(generateSeed())
  const msgs = Array.from({ length: 64 }, (_, i) => new Uint8Array(250).fill(i))
  const sigs = msgs.map(m => signer.signRaw(m))
  let i = 0
  const perSec = rate(ms, () => {
    const k = i++ & 63
    if (!verifyRaw(signer.publicKey, msgs[k], sigs[k])) throw new Error('verify bound: signature did not verify')
  })
  return { perSec, us: 1e6 / perSec, cpuUs: lastCpuUsPerOp }
}

/** @noble/ed25519's own verify (pure JS), a reference only: the chain never verifies with it. */
export function measureNobleVerify (ms = 500): number {
  const seed = generateSeed()
  const pk = publicKeyFromSeed(seed)
  const body = new Uint8Array(200).fill(3)
  const sig = signWithNoble('tx', 'bench', body, seed)
  const msg = signingBytes('tx', 'bench', body)
  return rate(ms, () => { if (!ed.verify(sig, msg, pk)) throw new Error('noble verify failed') }, 5)
}

/** Durable LevelDB write rate: sync batches of block-sized groups of tx-sized values. */
export async function measureLevelDb (ms = 1500, batchEntries = 1000, entryBytes = 250): Promise<Bounds['leveldb']> {
  const dir = mkdtempSync(join(tmpdir(), 'medchain-bench-level-'))
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  try {
    const value = new Uint8Array(entryBytes).fill(7)
    let batches = 0
    let key = 0
    const t0 = now()
    while (now() - t0 < ms) {
      const ops = []
      for (let i = 0; i < batchEntries; i++) {
        const k = new Uint8Array(8)
        new DataView(k.buffer).setBigUint64(0, BigInt(key++))
        ops.push({ type: 'put' as const, key: k, value })
      }
      await db.batch(ops, { sync: true })
      batches++
    }
    const s = (now() - t0) / 1000
    return { entriesPerSec: (batches * batchEntries) / s, batchesPerSec: batches / s, batchEntries, entryBytes }
  } finally {
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function measureBounds (opts: { quick: boolean, cores: number }): Promise<Bounds> {
  const v = measureVerify(opts.quick ? 700 : 1500)
  const nobleVerifyPerSec = measureNobleVerify(opts.quick ? 300 : 700)
  const leveldb = await measureLevelDb(opts.quick ? 800 : 2000)
  return { verifyPerSec: v.perSec, verifyUs: v.us, verifyCpuUs: v.cpuUs, nobleVerifyPerSec, leveldb, cores: opts.cores }
}

/** Verify ceiling of committed tx/s: every validator verifies every signature once. */
export function verifyCeiling (b: Bounds, validators: number): number {
  return b.verifyPerSec * b.cores / validators
}
