import { copyFileSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isIPv4 } from 'node:net'
import { Command } from 'commander'
import { toHex } from '../../codec/index.js'
import { createHome, homePaths } from '../home.js'
import { NodeError } from '../../node/errors.js'
import { readConfig, writeConfig } from '../../node/config.js'
import { createCa, issueCert, readPemPair, writePemPair, type CaFiles } from '../tlsCa.js'
import type { Genesis } from '../../node/genesis.js'

export interface TestnetOptions {
  validators: number
  out: string
  chainId: string
  basePort: number
  genesisTime?: number
  /** One IPv4 address per validator: its genesis p2p multiaddr and its config p2p.host. Default: all 127.0.0.1. */
  hosts?: string[]
}

/** Ports of validator i: API at base + 10 i, p2p at base + 10 i + 1. */
export function portsOf (basePort: number, index: number): { api: number, p2p: number } {
  return { api: basePort + index * 10, p2p: basePort + index * 10 + 1 }
}

/** Checks a --hosts list against the validator count; throws TESTNET_HOSTS_COUNT or TESTNET_BAD_HOST. */
export function checkHosts (hosts: string[], validators: number): string[] {
  if (hosts.length !== validators) {
    throw new NodeError('TESTNET_HOSTS_COUNT', `--hosts lists ${hosts.length} address${hosts.length === 1 ? '' : 'es'} for ${validators} validator${validators === 1 ? '' : 's'}: give exactly one IPv4 address per validator`, 400, hosts)
  }
  for (const [i, h] of hosts.entries()) {
    if (!isIPv4(h)) throw new NodeError('TESTNET_BAD_HOST', `--hosts entry ${i + 1} (${JSON.stringify(h)}) is not an IPv4 address such as 10.0.0.${i + 1}`, 400, h)
    if (h === '0.0.0.0' || h === '255.255.255.255') throw new NodeError('TESTNET_BAD_HOST', `--hosts entry ${i + 1} (${h}) is not an address other validators can dial`, 400, h)
  }
  return hosts
}

/** Writes one home per validator and the shared genesis.json into each. */
export function writeTestnet (opts: TestnetOptions): { genesis: Genesis, homes: string[] } {
  // Checked before any home is written, so a bad list leaves nothing behind.
  const hosts = opts.hosts === undefined ? Array.from({ length: opts.validators }, () => '127.0.0.1') : checkHosts(opts.hosts, opts.validators)
  const homes: string[] = []
  const validators: Genesis['validators'] = []
  for (let i = 0; i < opts.validators; i++) {
    const home = homePaths(`${opts.out}/node${i}`).home
    const ports = portsOf(opts.basePort, i)
    const { key } = createHome(home, { moniker: `node${i}`, apiPort: ports.api, p2pPort: ports.p2p, p2pHost: hosts[i] })
    homes.push(home)
    validators.push({ name: `node${i}`, publicKey: toHex(key.publicKey), power: 1, p2p: `/ip4/${hosts[i]}/tcp/${ports.p2p}` })
  }
  // Genesis time is data, fixed once here; the chain never reads a clock in consensus.
  const genesis: Genesis = { chainId: opts.chainId, genesisTime: opts.genesisTime ?? Date.now(), validators }
  for (const home of homes) writeFileSync(homePaths(home).genesis, JSON.stringify(genesis, null, 2) + '\n')
  return { genesis, homes }
}

/** Where a testnet's TLS files are: the CA (and, with mTLS, one client certificate) under <out>/ca/. */
export function testnetTlsPaths (out: string): { ca: CaFiles, client: CaFiles } {
  const dir = join(out, 'ca')
  return { ca: { cert: join(dir, 'ca.pem'), key: join(dir, 'ca-key.pem') }, client: { cert: join(dir, 'client.pem'), key: join(dir, 'client-key.pem') } }
}

/**
 * A development PKI for the homes of a testnet: a CA under <out>/ca/ (reused if present),
 * a server certificate per node in <home>/tls/ (SANs 127.0.0.1, ::1, localhost, its host)
 * named in its config.toml, so its API serves HTTPS; with `mtls`, each node also requires
 * client certificates from that CA and <out>/ca/client.pem is issued for the CLI.
 */
export async function writeTestnetTls (out: string, homes: string[], opts: { mtls?: boolean, hosts?: string[] } = {}): Promise<{ ca: string, client?: CaFiles }> {
  const paths = testnetTlsPaths(out)
  const ca = existsSync(paths.ca.cert) ? readPemPair(paths.ca) : await createCa(`medchain testnet CA (${out})`)
  writePemPair(join(out, 'ca'), 'ca', ca)
  for (const [i, home] of homes.entries()) {
    const config = readConfig(home)
    const hosts = ['127.0.0.1', '::1', 'localhost', config.api.host, config.p2p.host, ...(opts.hosts?.[i] !== undefined ? [opts.hosts[i]] : [])]
      .filter(h => h !== '0.0.0.0' && h !== '::' && h !== '')
    const dir = join(home, 'tls')
    writePemPair(dir, 'node', await issueCert(ca, { commonName: config.moniker, usage: 'server', hosts }))
    copyFileSync(paths.ca.cert, join(dir, 'ca.pem'))
    // Relative to the home, so a home folder can be moved to its machine as it is.
    config.api.tlsCert = 'tls/node.pem'
    config.api.tlsKey = 'tls/node-key.pem'
    config.api.tlsClientCa = opts.mtls === true ? 'tls/ca.pem' : ''
    writeConfig(home, config)
  }
  if (opts.mtls !== true) return { ca: paths.ca.cert }
  writePemPair(join(out, 'ca'), 'client', await issueCert(ca, { commonName: 'medchain testnet client', usage: 'client' }))
  return { ca: paths.ca.cert, client: paths.client }
}

export function testnetCommand (): Command {
  return new Command('testnet')
    .description('write genesis.json and one node home per validator (keys, config.toml with distinct ports)')
    .requiredOption('--out <dir>', 'folder to create the homes in (node0, node1, ...)')
    .option('--validators <n>', 'number of validators', v => parseInt(v, 10), 4)
    .option('--chain-id <id>', 'chain id', 'medchain-testnet')
    .option('--base-port <port>', 'API port of node0; node i uses base+10i (API) and base+10i+1 (p2p)', v => parseInt(v, 10), 26600)
    .option('--hosts <list>', 'comma-separated IPv4 address of each validator\'s machine, in order (its p2p address in genesis and its p2p.host); default 127.0.0.1 for all',
      v => v.split(',').map(h => h.trim()))
    .option('--tls', 'also write a local CA (<out>/ca/ca.pem) and a certificate per node: the APIs serve HTTPS (clients: --ca <out>/ca/ca.pem or MEDCHAIN_CA)')
    .option('--mtls', 'as --tls, and the nodes require client certificates from that CA; one is written to <out>/ca/client.pem (clients: --cert, --cert-key)')
    .action(async (o: { out: string, validators: number, chainId: string, basePort: number, hosts?: string[], tls?: boolean, mtls?: boolean }) => {
      const { homes } = writeTestnet({ validators: o.validators, out: o.out, chainId: o.chainId, basePort: o.basePort, hosts: o.hosts })
      for (const h of homes) console.log(h)
      if (o.tls === true || o.mtls === true) {
        const files = await writeTestnetTls(o.out, homes, { mtls: o.mtls, hosts: o.hosts })
        console.log(`CA ${files.ca}` + (files.client !== undefined ? `; client certificate ${files.client.cert} (key ${files.client.key})` : ''))
      }
    })
}
