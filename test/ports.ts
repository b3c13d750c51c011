// Port ranges for test clusters. Ports are taken from 10000–19999: below the kernel's
// ephemeral range (32768+ here), so no outgoing connection of any process can hold one,
// and apart from bench/'s 20000–31999 and a developer's devnet at 26600. Parallel test
// files reserve a slot with an atomic mkdir, so two files never pick the same ports.
import { mkdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const FIRST = 10_000
const SLOT = 200 // 20 validators × (API, p2p) at base + 10 i, base + 10 i + 1
const SLOTS = 50
const STALE_MS = 60 * 60 * 1000
const LOCKS = join(tmpdir(), 'medchain-test-ports')

const held: string[] = []
process.on('exit', () => { for (const dir of held) rmSync(dir, { recursive: true, force: true }) })

/** A base port for up to 20 validators, reserved for this process until it exits. */
export function reserveBasePort (): number {
  mkdirSync(LOCKS, { recursive: true })
  const start = Math.floor(Math.random() * SLOTS)
  for (let i = 0; i < SLOTS; i++) {
    const slot = (start + i) % SLOTS
    const dir = join(LOCKS, String(slot))
    try {
      mkdirSync(dir)
    } catch {
      // Held by a live test file, or left by one that was killed: take it back when stale.
      try { if (Date.now() - statSync(dir).mtimeMs < STALE_MS) continue } catch { continue }
      rmSync(dir, { recursive: true, force: true })
      try { mkdirSync(dir) } catch { continue }
    }
    held.push(dir)
    return FIRST + slot * SLOT
  }
  throw new Error(`no free test port slot under ${LOCKS}: ${SLOTS} in use`)
}
