// An isolated test network of Linux network namespaces, one per validator, for fault tests on
// real TCP: a bridge in the root namespace (10.X.Y.254/24, reached by the test process), and per
// validator i a namespace with `lo` and a veth into the bridge (10.X.Y.(i+1)/24). Faults:
//   partition(groups)  symmetric drop between groups: `ip route add blackhole <peer>/32` inside
//                      each namespace; open TCP connections stall, new dials fail; heal() undoes it.
//   netem(spec)        delay ± jitter, loss, duplication, reordering of every packet a validator
//                      sends to another: `tc qdisc ... netem` on each validator's interface when
//                      the kernel has sch_netem; otherwise (CONFIG_NET_SCH_NETEM unset, as on the
//                      CI VMs) the validators' traffic to each other is routed through a VXLAN
//                      device whose UDP underlay ends in a relay in this process, which applies
//                      the same per-packet rules (see NetemRelay). clear() undoes either.
// Needs root and iproute2 only. Names carry pid % 1000 (`mcbr<tag>`, `mc<tag>n<i>`, `mc<tag>v<i>`);
// up() first removes leftovers of a crashed earlier run with the same names, and of any run whose
// owner file ($TMPDIR/medchain-netns/<tag>) names a dead process, killing what still runs inside;
// down() removes everything, and also runs at exit and on SIGALRM (tap's timeout), SIGTERM,
// SIGINT and SIGHUP.
import { execFileSync } from 'node:child_process'
import dgram from 'node:dgram'
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface NetemSpec {
  delayMs: number
  jitterMs: number
  lossPct: number
  duplicatePct: number
  reorderPct: number
}

export interface NetemStats { mode: 'tc' | 'relay', packets: number, dropped: number, duplicated: number, immediate: number }

/** Runs an iproute2 command; a failure names the command and what it printed. */
function run (cmd: 'ip' | 'tc', args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (err) {
    const e = err as { stderr?: string, message: string }
    throw new Error(`${cmd} ${args.join(' ')}: ${(e.stderr ?? e.message).trim()}`)
  }
}

function ip (args: string[]): string { return run('ip', args) }
function tc (args: string[]): string { return run('tc', args) }

function quietly (fn: () => unknown): void { try { fn() } catch {} }

const PID_TAG = process.pid % 1000
const SIGNALS: NodeJS.Signals[] = ['SIGALRM', 'SIGTERM', 'SIGINT', 'SIGHUP']
const HAS_SETPRIV = ((): boolean => { try { execFileSync('setpriv', ['--version'], { stdio: 'ignore' }); return true } catch { return false } })()

export class TestNetwork {
  readonly tag = PID_TAG
  readonly bridge = `mcbr${PID_TAG}`
  readonly namespaces: string[]
  /** Root-namespace ends of the veths (the bridge ports). */
  readonly veths: string[]
  /** The /24 of this run, e.g. 10.201.17 */
  readonly subnet = `10.${200 + Math.floor(PID_TAG / 250)}.${PID_TAG % 250}`
  readonly gateway = `${this.subnet}.254`
  /** Interface of a validator inside its namespace. */
  readonly dev = 'eth0'
  private blackholes: Array<{ ns: string, dst: string }> = []
  private netemMode: 'tc' | 'relay' | null = null
  private relay: NetemRelay | null = null
  private isUp = false
  private readonly onExit = (): void => { this.down() }
  /** On a fatal signal (tap's timeout sends SIGALRM, then SIGKILL): clean up, then let the signal do what it did before. */
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.down()
    process.kill(process.pid, signal)
  }

  constructor (readonly size: number) {
    if (size < 1 || size > 200) throw new Error('1..200 validators')
    this.namespaces = Array.from({ length: size }, (_, i) => `mc${PID_TAG}n${i}`)
    this.veths = Array.from({ length: size }, (_, i) => `mc${PID_TAG}v${i}`)
  }

  /** Why this machine cannot build the network (null if it can): not root, no iproute2, no netns. */
  static unavailable (): string | null {
    if (process.getuid?.() !== 0) return 'not running as root (ip netns needs CAP_SYS_ADMIN)'
    for (const tool of ['ip', 'tc']) {
      try { execFileSync(tool, ['-V'], { stdio: 'ignore' }) } catch { return `${tool} (iproute2) is not installed` }
    }
    const probe = `mcprobe${process.pid}`
    try {
      ip(['netns', 'add', probe])
      ip(['-n', probe, 'link', 'set', 'lo', 'up'])
    } catch (err) {
      return `cannot create a network namespace: ${(err as Error).message}`
    } finally {
      quietly(() => ip(['netns', 'del', probe]))
    }
    return null
  }

  /** IPv4 address of validator i (its p2p and API bind here). */
  address (i: number): string { return `${this.subnet}.${i + 1}` }
  hosts (): string[] { return this.namespaces.map((_, i) => this.address(i)) }
  /**
   * Command prefix that runs a program inside validator i's namespace (exec, same pid). With
   * util-linux's setpriv, the program is also SIGKILLed when this process dies, so a test killed
   * outright leaves no validator running.
   */
  launcher (i: number): string[] {
    return ['ip', 'netns', 'exec', this.namespaces[i], ...(HAS_SETPRIV ? ['setpriv', '--pdeathsig', 'SIGKILL', '--'] : [])]
  }

  up (): void {
    this.removeLeftovers()
    mkdirSync(OWNERS, { recursive: true })
    writeFileSync(ownerFile(this.tag), String(process.pid))
    process.once('exit', this.onExit)
    for (const sig of SIGNALS) process.prependOnceListener(sig, this.onSignal)
    this.isUp = true
    ip(['link', 'add', this.bridge, 'type', 'bridge'])
    ip(['addr', 'add', `${this.gateway}/24`, 'dev', this.bridge])
    ip(['link', 'set', this.bridge, 'up'])
    for (let i = 0; i < this.size; i++) {
      const ns = this.namespaces[i]
      ip(['netns', 'add', ns])
      ip(['link', 'add', this.veths[i], 'type', 'veth', 'peer', 'name', this.dev, 'netns', ns])
      ip(['link', 'set', this.veths[i], 'master', this.bridge, 'up'])
      ip(['-n', ns, 'addr', 'add', `${this.address(i)}/24`, 'dev', this.dev])
      ip(['-n', ns, 'link', 'set', this.dev, 'up'])
      ip(['-n', ns, 'link', 'set', 'lo', 'up'])
    }
  }

  /** Symmetric partition: validators in different groups cannot reach each other; the test process reaches all. */
  partition (groups: number[][]): void {
    if (this.netemMode === 'relay') throw new Error('clear() netem before partitioning')
    this.heal()
    const groupOf = new Map<number, number>()
    groups.forEach((g, gi) => { for (const i of g) groupOf.set(i, gi) })
    for (let i = 0; i < this.size; i++) {
      for (let j = 0; j < this.size; j++) {
        if (i === j || groupOf.get(i) === groupOf.get(j)) continue
        const dst = `${this.address(j)}/32`
        ip(['-n', this.namespaces[i], 'route', 'add', 'blackhole', dst])
        this.blackholes.push({ ns: this.namespaces[i], dst })
      }
    }
  }

  /** Isolates the given validators from all others (each alone). */
  isolate (...nodes: number[]): void {
    const rest = Array.from({ length: this.size }, (_, i) => i).filter(i => !nodes.includes(i))
    this.partition([rest, ...nodes.map(n => [n])])
  }

  heal (): void {
    for (const b of this.blackholes.splice(0)) ip(['-n', b.ns, 'route', 'del', 'blackhole', b.dst])
  }

  /**
   * Degrades every packet one validator sends to another. Returns the mode used: 'tc' (kernel
   * netem on each validator's interface, which also delays the test process's API calls) or
   * 'relay' (userspace; validator-to-validator traffic only). MEDCHAIN_NETEM=relay forces the relay.
   */
  async netem (spec: NetemSpec): Promise<'tc' | 'relay'> {
    this.clear()
    if (this.blackholes.length > 0) throw new Error('heal() the partition before netem')
    if (process.env.MEDCHAIN_NETEM !== 'relay') {
      try {
        for (const ns of this.namespaces) {
          tc(['-n', ns, 'qdisc', 'add', 'dev', this.dev, 'root', 'netem', 'delay', `${spec.delayMs}ms`, `${spec.jitterMs}ms`,
            'loss', `${spec.lossPct}%`, 'duplicate', `${spec.duplicatePct}%`, 'reorder', `${spec.reorderPct}%`])
          this.netemMode = 'tc'
        }
        return 'tc'
      } catch (err) {
        this.clear()
        if (!/unknown|No such file|not supported/i.test((err as Error).message)) throw err
      }
    }
    await this.startRelay(spec)
    this.netemMode = 'relay'
    return 'relay'
  }

  netemStats (): NetemStats | null {
    if (this.netemMode === 'tc') return { mode: 'tc', packets: 0, dropped: 0, duplicated: 0, immediate: 0 }
    return this.relay === null ? null : { mode: 'relay', ...this.relay.stats }
  }

  clear (): void {
    if (this.netemMode === 'tc') for (const ns of this.namespaces) quietly(() => tc(['-n', ns, 'qdisc', 'del', 'dev', this.dev, 'root']))
    if (this.netemMode === 'relay') {
      // Deleting the device takes its /32 routes and neighbours with it.
      for (const ns of this.namespaces) quietly(() => ip(['-n', ns, 'link', 'del', 'mcx']))
      // Packets still delayed in the relay are delivered to the plain interfaces; then it closes.
      const relay = this.relay
      this.relay = null
      setTimeout(() => { relay?.close() }, 1_000).unref()
    }
    this.netemMode = null
  }

  /** Removes namespaces, veths and the bridge; safe to call twice and at exit (synchronous). */
  down (): void {
    if (!this.isUp) return
    this.isUp = false
    process.removeListener('exit', this.onExit)
    for (const sig of SIGNALS) process.removeListener(sig, this.onSignal)
    this.relay?.close()
    this.relay = null
    this.blackholes = []
    this.netemMode = null
    removeTag(this.tag)
    quietly(() => { rmSync(ownerFile(this.tag)) })
  }

  /**
   * Everything with this run's names (also from a crashed earlier run with the same pid % 1000),
   * and every network of an earlier run whose owner file names a process that no longer exists
   * (a run killed with SIGKILL cannot clean up after itself).
   */
  private removeLeftovers (): void {
    removeTag(this.tag)
    quietly(() => { rmSync(ownerFile(this.tag)) })
    let owners: string[] = []
    try { owners = readdirSync(OWNERS).filter(f => /^\d+$/.test(f)) } catch {}
    for (const f of owners) {
      let pid = 0
      try { pid = Number(readFileSync(ownerFile(Number(f)), 'utf8')) } catch { continue }
      if (pid > 0 && alive(pid)) continue
      removeTag(Number(f))
      quietly(() => { rmSync(ownerFile(Number(f))) })
    }
  }

  /** VXLAN device `mcx` in every namespace; its underlay goes to the relay; /32 routes to peers over it. */
  private async startRelay (spec: NetemSpec): Promise<void> {
    const port = 40_000 + this.tag
    const relay = new NetemRelay(spec, this.gateway, port, i => this.address(i), this.size)
    await relay.listen()
    this.relay = relay
    for (let i = 0; i < this.size; i++) {
      const ns = this.namespaces[i]
      ip(['-n', ns, 'link', 'add', 'mcx', 'type', 'vxlan', 'id', '42', 'local', this.address(i), 'remote', this.gateway, 'dstport', String(port), 'dev', this.dev, 'nolearning'])
      // One wire packet per IP packet (no GSO super-packets), so loss and delay apply per packet as netem does.
      ip(['-n', ns, 'link', 'set', 'mcx', 'address', macOf(i), 'gso_max_size', '1400', 'gso_max_segs', '1'])
      ip(['-n', ns, 'link', 'set', 'mcx', 'up'])
    }
    for (let i = 0; i < this.size; i++) {
      for (let j = 0; j < this.size; j++) {
        if (i === j) continue
        ip(['-n', this.namespaces[i], 'neigh', 'replace', this.address(j), 'lladdr', macOf(j), 'dev', 'mcx', 'nud', 'permanent'])
        ip(['-n', this.namespaces[i], 'route', 'add', `${this.address(j)}/32`, 'dev', 'mcx', 'src', this.address(i)])
      }
    }
  }
}

/** Owner files: OWNERS/<tag> holds the pid of the run that built network <tag>. */
const OWNERS = join(tmpdir(), 'medchain-netns')
function ownerFile (tag: number): string { return join(OWNERS, String(tag)) }

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as { code?: string }).code === 'EPERM' }
}

/** Removes the namespaces `mc<tag>n*` (SIGKILLing what still runs in them), the veths `mc<tag>v*` and the bridge `mcbr<tag>`. */
function removeTag (tag: number): void {
  let names: string[] = []
  try { names = ip(['netns', 'list']).split('\n').map(l => l.split(' ')[0]).filter(n => new RegExp(`^mc${tag}n\\d+$`).test(n)) } catch {}
  for (const ns of names) {
    let pids: string[] = []
    try { pids = ip(['netns', 'pids', ns]).split(/\s+/).filter(p => /^\d+$/.test(p)) } catch {}
    // Validators left running by a crashed run: they live in that run's namespaces only.
    for (const pid of pids) quietly(() => { process.kill(Number(pid), 'SIGKILL') })
    quietly(() => ip(['netns', 'del', ns]))
  }
  let links: string[] = []
  try { links = ip(['-o', 'link', 'show']).split('\n').map(l => l.split(':')[1]?.trim().split('@')[0] ?? '').filter(n => new RegExp(`^mc${tag}v\\d+$`).test(n)) } catch {}
  for (const v of links) quietly(() => ip(['link', 'del', v]))
  quietly(() => ip(['link', 'del', `mcbr${tag}`]))
}

function macOf (i: number): string { return `02:6d:63:00:00:${(i + 1).toString(16).padStart(2, '0')}` }

/**
 * The userspace half of netem: receives VXLAN frames (8-byte header + Ethernet) from every
 * validator, and forwards each IPv4 packet to the validator it is addressed to: dropped with
 * probability loss, sent twice with probability duplicate, each copy sent at once with
 * probability reorder (so it overtakes delayed ones, as netem's reorder) or after delay ± jitter
 * (uniform, as netem without a distribution table). The inner TCP checksum is recomputed: the
 * kernel left it to checksum offload, which never ran because the packet went to a socket.
 */
export class NetemRelay {
  readonly stats = { packets: 0, dropped: 0, duplicated: 0, immediate: 0 }
  private readonly socket = dgram.createSocket('udp4')
  private readonly timers = new Set<NodeJS.Timeout>()
  private closed = false

  constructor (private readonly spec: NetemSpec, private readonly host: string, private readonly port: number,
    private readonly addressOf: (i: number) => string, private readonly size: number) {
    this.socket.on('message', (buf) => { this.onPacket(buf) })
    this.socket.on('error', () => {})
  }

  async listen (): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('error', reject)
      this.socket.bind(this.port, this.host, () => { this.socket.removeListener('error', reject); resolve() })
    })
  }

  private onPacket (buf: Buffer): void {
    const ip = 8 + 14
    if (buf.length < ip + 20 || buf.readUInt16BE(8 + 12) !== 0x0800) return // IPv4 only (no ARP: static neighbours)
    const target = buf[ip + 19] - 1
    if (target < 0 || target >= this.size) return
    if (!fixTransportChecksum(buf, ip)) return
    this.stats.packets++
    const { lossPct, duplicatePct, reorderPct, delayMs, jitterMs } = this.spec
    if (Math.random() * 100 < lossPct) { this.stats.dropped++; return }
    const copies = Math.random() * 100 < duplicatePct ? 2 : 1
    if (copies === 2) this.stats.duplicated++
    for (let c = 0; c < copies; c++) {
      if (Math.random() * 100 < reorderPct) {
        this.stats.immediate++
        this.send(buf, target)
        continue
      }
      const delay = Math.max(0, delayMs + (Math.random() * 2 - 1) * jitterMs)
      const timer = setTimeout(() => { this.timers.delete(timer); this.send(buf, target) }, delay)
      this.timers.add(timer)
    }
  }

  private send (buf: Buffer, target: number): void {
    if (this.closed) return
    this.socket.send(buf, this.port, this.addressOf(target))
  }

  close (): void {
    if (this.closed) return
    this.closed = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    try { this.socket.close() } catch {}
  }
}

/** Recomputes the TCP checksum (UDP: zeroed, which IPv4 allows) of the IPv4 packet at `ip`; false if malformed. */
function fixTransportChecksum (buf: Buffer, ip: number): boolean {
  const ihl = (buf[ip] & 0x0f) * 4
  const total = buf.readUInt16BE(ip + 2)
  if (ihl < 20 || ip + total > buf.length || total < ihl) return false
  const proto = buf[ip + 9]
  const l4 = ip + ihl
  const len = total - ihl
  if (proto === 17) { if (len >= 8) buf.writeUInt16BE(0, l4 + 6); return true }
  if (proto !== 6) return true
  if (len < 20) return false
  buf.writeUInt16BE(0, l4 + 16)
  let sum = 6 + len
  for (let k = ip + 12; k < ip + 20; k += 2) sum += buf.readUInt16BE(k)
  const end = l4 + len
  for (let k = l4; k + 1 < end; k += 2) sum += buf.readUInt16BE(k)
  if ((len & 1) === 1) sum += buf[end - 1] << 8
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  buf.writeUInt16BE((~sum) & 0xffff, l4 + 16)
  return true
}
