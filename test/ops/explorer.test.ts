// The explorer page end to end in headless Chromium against a real node: live height,
// validators, blocks with tx counts, tx lookup, a patient's consents and audit trail
// (including a break-glass that arrives while the page is open), and a screenshot.
import t from 'tap'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { chromium, type Browser } from 'playwright-core'
import { fastSigner } from '../../ledger/index.js'
import { generateSeed, publicKeyFromSeed } from '../../crypto/index.js'
import { loadKey } from '../../cli/home.js'
import { startDevnet, setupWorld, accessAndBreakGlass, sendTx, toHex } from './harness.js'

const CHROMIUM = '/usr/bin/chromium'

if (!existsSync(CHROMIUM)) {
  t.comment(`${CHROMIUM} not found (apt-get install chromium; .ci/run installs it): skipping the explorer test`)
  t.pass('skipped: no chromium', { skip: 'chromium absent' })
} else {
  t.test('explorer page in headless Chromium', async t => {
    const started = Date.now()
    const net = await startDevnet(1, 'explorer')
    let browser: Browser | null = null
    t.teardown(async () => { await browser?.close().catch(() => {}); await net.stop() })
    const base = net.info.nodes[0].api
    const client = net.clients[0]
    const world = await setupWorld(client, net.info.nodes[0].home)
    const patientHex = toHex(world.patient.publicKey)

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
    })
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } })
    const pageErrors: string[] = []
    page.on('pageerror', err => pageErrors.push(err.message))
    page.on('console', msg => { if (msg.type() === 'error') pageErrors.push(msg.text()) })
    await page.goto(base + '/')
    t.match(await page.title(), /medchain explorer/)
    // The operator signs in with the member key (kept in the tab; requests signed in the page).
    const keyFile = (seed: Uint8Array): string => JSON.stringify({ type: 'ed25519', publicKey: toHex(publicKeyFromSeed(seed)), seed: toHex(seed) })
    const signIn = async (p: typeof page, seed: Uint8Array): Promise<void> => {
      await p.fill('#key', keyFile(seed))
      await p.click('#keyform button')
      await p.waitForFunction(() => document.getElementById('keystatus')?.textContent?.startsWith('signed in'), null, { timeout: 10_000 })
    }
    await signIn(page, loadKey(net.info.nodes[0].home).seed)
    await page.waitForFunction(() => document.getElementById('live')?.textContent === 'live', null, { timeout: 15_000 })
    t.equal(await page.textContent('#live'), 'live', 'event stream connected')

    // Live height: it moves without a reload (block events; the 5 s poll is only a fallback).
    await page.waitForFunction(() => Number(document.getElementById('height')?.textContent) > 0, null, { timeout: 15_000 })
    const h1 = Number(await page.textContent('#height'))
    await sendTx(client, 'patient.register', {}, fastSigner(generateSeed()), 0)
    await page.waitForFunction(h => Number(document.getElementById('height')?.textContent) > h, h1, { timeout: 15_000 })
    const h2 = Number(await page.textContent('#height'))
    t.ok(h2 > h1, `height updated live: ${h1} → ${h2}`)

    // Validators with last-seen height and liveness.
    await page.waitForSelector('#validators tbody tr[data-validator="node0"]', { timeout: 10_000 })
    const vrow = await page.textContent('#validators tbody tr[data-validator="node0"]')
    t.match(vrow, /node0/)
    t.match(vrow, /live/, 'the lone validator is live')

    // Latest blocks with tx counts: some block carries the setup transactions.
    await page.waitForFunction(() => [...document.querySelectorAll('#blocks tbody tr')].some(r => Number(r.children[1]?.textContent) > 0), null, { timeout: 10_000 })
    const rows = await page.$$eval('#blocks tbody tr', trs => trs.map(tr => [...tr.children].map(td => td.textContent ?? '')))
    t.ok(rows.length > 0 && rows.every(r => /^\d+$/.test(r[0]) && /^\d+$/.test(r[1])), `${rows.length} blocks listed with heights and tx counts`)

    // Tx lookup through the form.
    await page.fill('#txid', world.ids.grant)
    await page.click('#txform button')
    await page.waitForSelector('#tx-status', { timeout: 10_000 })
    t.match(await page.textContent('#tx-status'), 'committed')
    t.match(await page.textContent('#tx-kind'), 'consent.grant')
    t.match(await page.textContent('#tx-result'), 'OK')
    // A malformed id is refused in the page, not sent as a broken request.
    await page.fill('#txid', 'not-hex')
    await page.click('#txform button')
    await page.waitForFunction(() => document.getElementById('txsummary')?.textContent?.includes('64-hex'), null, { timeout: 5000 })
    t.match(await page.textContent('#txsummary'), /64-hex/, 'malformed tx id reported')

    // The patient signs in with their own key to see their consents and trail; then an access and a break-glass arrive live.
    await signIn(page, world.seeds.patient)
    await page.fill('#pid', patientHex)
    await page.click('#pform button')
    await page.waitForSelector(`#consents tbody tr[data-grant="${world.ids.grant}"]`, { timeout: 10_000 })
    const grantRow = await page.textContent(`#consents tbody tr[data-grant="${world.ids.grant}"]`)
    t.match(grantRow, /provider/)
    t.match(grantRow, /active/)
    t.match(grantRow, /TREAT/)
    // The page says "following live" only once its patient stream is open; what commits
    // after that must show up without a reload.
    await page.waitForFunction(() => document.getElementById('pstatus')?.textContent?.includes('following live'), null, { timeout: 15_000 })
    const ids = await accessAndBreakGlass(client, world)
    await page.waitForSelector(`#audit tbody tr[data-tx="${ids.breakGlass}"]`, { timeout: 15_000 })
    await page.waitForSelector(`#audit tbody tr[data-tx="${ids.access}"]`, { timeout: 15_000 })
    const accessRow = await page.textContent(`#audit tbody tr[data-tx="${ids.access}"]`)
    t.match(accessRow, /permit/, 'the access row shows the permit decision')
    t.match(accessRow, /labs/)
    t.match(await page.textContent(`#audit tbody tr[data-tx="${ids.breakGlass}"]`), /break-glass/, 'the break-glass row is flagged')
    t.match(await page.textContent('#pstatus'), /break-glass/)

    // The live transaction feed saw them too; a link there opens the tx.
    await page.waitForSelector(`#feed a[data-tx="${ids.breakGlass}"]`, { timeout: 10_000 })
    await page.click(`#feed a[data-tx="${ids.breakGlass}"]`)
    await page.waitForFunction(() => document.getElementById('tx-kind')?.textContent === 'access.break_glass', null, { timeout: 10_000 })
    t.equal(page.url(), `${base}/#tx=${ids.breakGlass}`, 'deep link in the address bar')

    // Deep link straight to a patient.
    const page2 = await browser.newPage()
    await page2.goto(`${base}/#patient=${patientHex}`)
    await signIn(page2, world.seeds.patient)
    await page2.waitForSelector(`#audit tbody tr[data-tx="${ids.access}"]`, { timeout: 10_000 })
    t.ok(await page2.$(`#audit tbody tr[data-tx="${ids.access}"]`), '#patient= deep link renders the audit trail')
    await page2.close()

    await page.evaluate(() => { location.hash = '' })
    const dir = join(tmpdir(), 'medchain-artifacts')
    mkdirSync(dir, { recursive: true })
    const shot = join(dir, 'explorer.png')
    await page.fill('#pid', patientHex)
    await page.click('#pform button')
    await page.waitForSelector(`#audit tbody tr[data-tx="${ids.access}"]`)
    await page.screenshot({ path: shot, fullPage: true })
    t.ok(existsSync(shot), `screenshot written to ${shot}`)
    t.comment(`explorer screenshot: ${shot}`)
    t.same(pageErrors, [], 'no script errors in the page')
    t.comment(`total ${Date.now() - started} ms`)
  })
}
