// `medchain testnet --hosts`: one IPv4 per validator in genesis and config.toml; a list of the
// wrong length or a bad address is refused with a stable code before any home is written.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeTestnet, checkHosts } from '../../cli/commands/testnet.js'
import { readConfig } from '../../node/config.js'
import { readGenesis } from '../../node/genesis.js'
import { MAIN } from '../integration/cluster.js'

const code = (fn: () => unknown): string => { try { fn(); return 'OK' } catch (err) { return (err as { code: string }).code } }
const fresh = (): string => mkdtempSync(join(tmpdir(), 'medchain-testnet-'))

t.test('each validator gets its host in genesis and in config.toml; the API stays on 127.0.0.1', async t => {
  const out = fresh()
  const hosts = ['10.1.0.1', '10.1.0.2', '192.168.7.30']
  const { genesis, homes } = writeTestnet({ validators: 3, out, chainId: 'medchain-hosts', basePort: 27000, hosts })
  t.same(genesis.validators.map(v => v.p2p), ['/ip4/10.1.0.1/tcp/27001', '/ip4/10.1.0.2/tcp/27011', '/ip4/192.168.7.30/tcp/27021'])
  homes.forEach((home, i) => {
    const config = readConfig(home)
    t.equal(config.p2p.host, hosts[i], `node${i} p2p.host`)
    t.equal(config.api.host, '127.0.0.1', `node${i} api.host unchanged`)
    t.same(readGenesis(join(home, 'genesis.json')), genesis, `node${i} has the shared genesis`)
  })
})

t.test('without --hosts every validator is on 127.0.0.1', async t => {
  const { genesis, homes } = writeTestnet({ validators: 2, out: fresh(), chainId: 'medchain-hosts', basePort: 27100 })
  t.same(genesis.validators.map(v => v.p2p), ['/ip4/127.0.0.1/tcp/27101', '/ip4/127.0.0.1/tcp/27111'])
  t.same(homes.map(h => readConfig(h).p2p.host), ['127.0.0.1', '127.0.0.1'])
})

t.test('a wrong count or a bad address is refused with a stable code and writes nothing', async t => {
  t.equal(code(() => checkHosts(['10.0.0.1', '10.0.0.2'], 3)), 'TESTNET_HOSTS_COUNT')
  t.equal(code(() => checkHosts(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'], 3)), 'TESTNET_HOSTS_COUNT')
  for (const bad of ['10.0.0', '10.0.0.256', '::1', 'hospital-a.example', '', ' 10.0.0.1', '0.0.0.0', '10.0.0.1/24']) {
    t.equal(code(() => checkHosts(['10.0.0.9', bad], 2)), 'TESTNET_BAD_HOST', `refuses ${JSON.stringify(bad)}`)
  }
  t.equal(code(() => checkHosts(['10.0.0.1', '10.0.0.1'], 2)), 'OK', 'two validators may share a machine (distinct ports)')
  const out = fresh()
  t.equal(code(() => writeTestnet({ validators: 2, out, chainId: 'medchain-hosts', basePort: 27200, hosts: ['10.0.0.1', 'nope'] })), 'TESTNET_BAD_HOST')
  t.notOk(existsSync(join(out, 'node0')), 'no home written for a refused list')
})

t.test('the command line: --hosts splits on commas; an error prints its code and exits 1', async t => {
  const out = fresh()
  const ok = spawnSync(process.execPath, [MAIN, 'testnet', '--out', out, '--validators', '2', '--base-port', '27300', '--hosts', '10.2.0.1, 10.2.0.2'], { encoding: 'utf8' })
  t.equal(ok.status, 0, ok.stderr)
  t.same(readGenesis(join(out, 'node1', 'genesis.json')).validators.map(v => v.p2p), ['/ip4/10.2.0.1/tcp/27301', '/ip4/10.2.0.2/tcp/27311'])
  t.match(readFileSync(join(out, 'node1', 'config.toml'), 'utf8'), /host = "10\.2\.0\.2"/)

  const count = spawnSync(process.execPath, [MAIN, 'testnet', '--out', fresh(), '--validators', '4', '--hosts', '10.2.0.1,10.2.0.2'], { encoding: 'utf8' })
  t.equal(count.status, 1)
  t.match(count.stderr, /error \[TESTNET_HOSTS_COUNT\]: --hosts lists 2 addresses for 4 validators/)
})
