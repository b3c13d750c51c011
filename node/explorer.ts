/**
 * The operator's page served at `/`: plain HTML and a little script, no build step.
 * It reads the same JSON API as everyone else and follows /v1/events for live updates:
 * block events move the height at once; a shown patient gets their own filtered stream.
 * Deep links: `#tx=<id>` and `#patient=<id>`. Element ids are stable (test/ops/explorer.test.ts).
 * A patient's consents and audit trail come newest first, a page at a time: "older" links
 * follow the page's `next` cursor, so the latest accesses are always the ones shown first.
 */
export function explorerHtml (chainId: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>medchain explorer — ${escapeHtml(chainId)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#17324d;color:#fff;padding:10px 20px;display:flex;gap:24px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0}main{padding:16px 20px;display:grid;grid-template-columns:1fr 1fr;gap:16px}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:12px;min-width:0}h2{font-size:15px;margin:0 0 8px}h3{font-size:13px;margin:10px 0 4px}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:3px 6px;border-bottom:1px solid #eef0f3;font-variant-numeric:tabular-nums;vertical-align:top}
code{font-size:12px;word-break:break-all}.ok{color:#1a7f37}.bad{color:#c62828}.warn{color:#b26a00}
input{width:70%;padding:4px;font-family:monospace}a{color:#17508a;cursor:pointer}
pre{white-space:pre-wrap;word-break:break-all;font-size:12px;max-height:240px;overflow:auto;background:#f6f7f9;padding:6px}
.wide{grid-column:1 / span 2}.muted{color:#6b7380}.flag{background:#fde7e7;color:#a01515;border-radius:3px;padding:0 4px;font-size:12px}
#live.ok::before{content:"● "}#live.bad::before{content:"○ "}
@media (max-width:900px){main{grid-template-columns:1fr}.wide{grid-column:1}}
</style></head><body>
<header><h1>medchain</h1><span id="chain">${escapeHtml(chainId)}</span><span>height <b id="height">–</b></span><span id="node"></span><span id="live" class="bad">offline</span></header>
<main>
<section class="wide"><h2>Sign in</h2><form id="keyform"><input id="key" type="password" placeholder='paste your key file ({"type":"ed25519","publicKey":…,"seed":…}): a member key for chain data, a patient key for your own data' autocomplete="off"> <button>use key</button></form>
<p id="keystatus" class="muted">not signed in: status only (docs/access-table.md). The key stays in this tab; each request carries a token signed here.</p></section>
<section><h2>Status</h2><table id="status"></table></section>
<section><h2>Validators</h2><table id="validators"><thead><tr><th>#</th><th>name</th><th>last commit</th><th>reported</th><th>peer</th><th>liveness</th></tr></thead><tbody></tbody></table></section>
<section><h2>Latest blocks</h2><table id="blocks"><thead><tr><th>height</th><th>txs</th><th>time</th><th>hash</th></tr></thead><tbody></tbody></table></section>
<section><h2>Live transactions</h2><table id="feed"><thead><tr><th>height</th><th>kind</th><th>result</th><th>id</th></tr></thead><tbody></tbody></table><p class="muted" id="feedhint">committed transactions appear here as they happen</p></section>
<section class="wide"><h2>Transaction</h2><form id="txform"><input id="txid" placeholder="tx id (64 hex)" autocomplete="off"> <button>look up</button></form>
<table id="txsummary"></table><pre id="txout"></pre></section>
<section class="wide"><h2>Patient</h2><form id="pform"><input id="pid" placeholder="patient id (64 hex)" autocomplete="off"> <button>show</button></form>
<p id="pstatus" class="muted"></p>
<h3>Consents <span class="muted">newest first</span></h3><table id="consents"><thead><tr><th>grant</th><th>grantee</th><th>categories</th><th>actions</th><th>purposes</th><th>valid until</th><th>status</th></tr></thead><tbody></tbody></table>
<p><a id="consentsmore" hidden>older consents</a></p>
<h3>Audit trail <span class="muted">newest first</span></h3><table id="audit"><thead><tr><th>height</th><th>time</th><th>event</th><th>actor</th><th>what</th><th>decision</th><th>tx</th></tr></thead><tbody></tbody></table>
<p><a id="auditmore" hidden>older entries</a></p>
</section>
</main>
<script>
const $ = id => document.getElementById(id)
const esc = s => String(s ?? '').replace(/[&<>"']/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]))
const short = h => h ? String(h).slice(0, 12) + '…' : ''
const when = ms => ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : ''
const txLink = id => '<a data-tx="' + esc(id) + '"><code>' + esc(short(id)) + '</code></a>'
const HEX64 = /^[0-9a-f]{64}$/
// Requests are signed in the browser (WebCrypto Ed25519): a fresh EdDSA JWT per request,
// audience chain id + node key, as the CLI does. The key never leaves this tab.
let signKey = null, signPub = '', audience = ''
const b64u = bytes => btoa(String.fromCharCode(...bytes)).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '')
const hexBytes = h => new Uint8Array(h.match(/../g).map(x => parseInt(x, 16)))
async function useKey (text) {
  const k = JSON.parse(text)
  if (!HEX64.test(k.publicKey) || !HEX64.test(k.seed)) throw new Error('not a medchain key file')
  signKey = await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: b64u(hexBytes(k.publicKey)), d: b64u(hexBytes(k.seed)) }, { name: 'Ed25519' }, false, ['sign'])
  signPub = k.publicKey
  sessionStorage.setItem('medchain-key', text)
  $('keystatus').textContent = 'signed in as ' + short(signPub)
}
async function token () {
  if (!signKey) return null
  if (!audience) { const s = await (await fetch('/v1/status')).json(); audience = s.chainId + ':' + s.nodeKey }
  const now = Math.floor(Date.now() / 1000)
  const enc = o => b64u(new TextEncoder().encode(JSON.stringify(o)))
  const jti = b64u(crypto.getRandomValues(new Uint8Array(16)))
  const input = enc({ alg: 'EdDSA', typ: 'JWT' }) + '.' + enc({ iss: signPub, sub: signPub, aud: audience, iat: now, exp: now + 120, jti })
  return input + '.' + b64u(new Uint8Array(await crypto.subtle.sign('Ed25519', signKey, new TextEncoder().encode(input))))
}
async function get (path) { const t = await token(); const r = await fetch(path, t ? { headers: { authorization: 'Bearer ' + t } } : {}); return { ok: r.ok, status: r.status, body: await r.json() } }
async function streamUrl (path) { const t = await token(); return t ? path + (path.includes('?') ? '&' : '?') + 'access_token=' + t : path }
let height = 0
function setHeight (h) { if (h >= height) { height = h; $('height').textContent = h } }
async function refresh () {
  const s = (await get('/v1/status')).body
  setHeight(s.height)
  $('node').textContent = s.moniker
  $('status').innerHTML = [['chain', s.chainId], ['height', s.height], ['latest block', s.latestBlockHash], ['block time', when(s.latestBlockTime)], ['state root', s.stateRoot], ['syncing', s.syncing], ['halted', s.halted ?? 'no'], ['mempool', s.mempool.txs + ' txs, ' + s.mempool.bytes + ' bytes'], ['peers', s.peers.length]]
    .map(([k, v]) => '<tr><th>' + k + '</th><td><code>' + esc(v) + '</code></td></tr>').join('')
  const vr = await get('/v1/validators')
  if (!vr.ok) return // chain data is for members (docs/access-table.md)
  const vs = vr.body
  $('validators').tBodies[0].innerHTML = vs.map(v => {
    const live = v.lastCommitHeight > 0 && s.height - v.lastCommitHeight <= 3
    return '<tr data-validator="' + esc(v.name) + '"><td>' + v.index + '</td><td>' + esc(v.name) + (v.self ? ' <span class="muted">(this node)</span>' : '') + '</td><td>' + v.lastCommitHeight + '</td><td>' + (v.self ? s.height : esc(v.reportedHeight ?? '–')) + '</td><td>' + (v.connected ? 'connected' : '<span class="bad">down</span>') + '</td><td class="' + (live ? 'ok">live' : 'bad">missing') + '</td></tr>'
  }).join('')
  const bs = (await get('/v1/blocks?limit=15')).body
  $('blocks').tBodies[0].innerHTML = bs.map(b => '<tr data-height="' + b.height + '"><td>' + b.height + '</td><td>' + b.txCount + '</td><td>' + when(b.time) + '</td><td><code>' + esc(short(b.hash)) + '</code></td></tr>').join('')
}
function addFeed (d) {
  const body = $('feed').tBodies[0]
  body.insertAdjacentHTML('afterbegin', '<tr><td>' + d.height + '</td><td>' + esc(d.kind) + '</td><td class="' + (d.code === 'OK' ? 'ok' : 'warn') + '">' + esc(d.code) + '</td><td>' + txLink(d.id) + '</td></tr>')
  while (body.rows.length > 20) body.deleteRow(body.rows.length - 1)
  $('feedhint').textContent = ''
}
async function showTx (id) {
  $('txid').value = id
  if (!HEX64.test(id)) { $('txsummary').innerHTML = '<tr><td class="bad">not a 64-hex tx id</td></tr>'; $('txout').textContent = ''; return }
  const r = await get('/v1/txs/' + id)
  if (!r.ok) { $('txsummary').innerHTML = '<tr><td class="bad">' + esc(r.body.error?.code) + ': ' + esc(r.body.error?.message) + '</td></tr>'; $('txout').textContent = ''; return }
  const x = r.body
  $('txsummary').innerHTML = [['id', x.id], ['status', x.status], ['kind', x.tx?.kind], ['height', x.height ?? 'pending'], ['result', x.code ?? ''], ['sender', x.tx?.sender], ['nonce', x.tx?.nonce]]
    .map(([k, v]) => '<tr><th>' + k + '</th><td id="tx-' + k + '"><code>' + esc(v) + '</code></td></tr>').join('')
  $('txout').textContent = JSON.stringify(x.tx?.body ?? x, null, 2)
}
function grantee (g) { return g.type === 'provider' ? 'provider ' + short(g.key) : g.type === 'org' ? 'org ' + g.member : 'role ' + g.role }
// One filtered stream per shown patient. The trail is (re)loaded every time the stream
// opens, so a tx committed before the subscription went live (or during a reconnect) is
// never missed; a load that a newer one overtook is dropped instead of painted over it.
let patientStream = null, patientShown = null, patientLive = false, patientLoads = 0, patientTimer = null
function showPatient (id) {
  $('pid').value = id
  if (patientShown !== id) {
    if (patientStream) patientStream.close()
    patientStream = null; patientShown = id; patientLive = false; patientSummary = ''
    if (!HEX64.test(id)) { $('pstatus').textContent = 'not a 64-hex patient id'; return }
    streamUrl('/v1/events?patient=' + id).then(url => { if (patientShown !== id) return
    patientStream = new EventSource(url)
    patientStream.onopen = () => { patientLive = true; loadPatient(id) }
    patientStream.onerror = () => { patientLive = false; paintPatientStatus() }
    patientStream.addEventListener('tx', () => { if (!patientTimer) patientTimer = setTimeout(() => { patientTimer = null; loadPatient(id) }, 100) }) })
  }
  if (HEX64.test(id)) loadPatient(id)
}
let patientSummary = ''
function paintPatientStatus () { if (patientSummary) $('pstatus').textContent = patientSummary + (patientLive ? ' — following live' : ' — connecting') }
const PAGE = 50
const consentRow = v => { const g = v.grant; return '<tr data-grant="' + esc(g.id) + '"><td>' + txLink(g.id) + '</td><td>' + esc(grantee(g.grantee)) + '</td><td>' + esc(g.categories.join(' ')) + (g.exclude ? ' <span class="muted">except ' + esc(g.exclude.join(' ')) + '</span>' : '') + '</td><td>' + esc(g.actions.join(' ')) + '</td><td>' + esc(g.purposes.join(' ')) + '</td><td>' + when(g.validUntil) + '</td><td class="' + (v.status === 'active' ? 'ok' : 'muted') + '">' + esc(v.status) + '</td></tr>' }
const auditRow = e => '<tr data-tx="' + esc(e.txId) + '" data-cursor="' + esc(e.cursor) + '"><td>' + e.at.height + '</td><td>' + when(e.at.time) + '</td><td>' + esc(e.type) + (e.breakGlass ? ' <span class="flag">break-glass</span>' : '') + '</td><td><code>' + esc(short(e.actor)) + '</code>' + (e.actedAs ? ' <span class="flag">representative (' + esc(e.actedAs.basis) + ')</span>' : '') + '</td><td>' + esc([e.action, e.category, e.purpose].filter(Boolean).join(' ')) + '</td><td class="' + (e.permit === false ? 'bad' : 'ok') + '">' + (e.permit === undefined ? '' : e.permit ? 'permit' : 'deny') + (e.reason ? ' <span class="muted">' + esc(e.reason) + '</span>' : '') + '</td><td>' + txLink(e.txId) + '</td></tr>'
// Where each list's next (older) page starts, for the "older" links.
const older = { consents: null, audit: null }
let shown = { consents: 0, audit: 0, breakGlass: 0, registered: false }
function paintSummary () {
  patientSummary = (shown.registered ? 'registered patient' : 'unknown patient') + ': ' + shown.consents + (older.consents ? '+' : '') + ' consents, ' + shown.audit + (older.audit ? '+' : '') + ' audit entries' + (shown.breakGlass ? ', ' + shown.breakGlass + ' break-glass' : '')
  paintPatientStatus()
  $('consentsmore').hidden = !older.consents
  $('auditmore').hidden = !older.audit
}
async function loadPatient (id) {
  const load = ++patientLoads
  const [c, a, rec] = await Promise.all([get('/v1/patients/' + id + '/consents?limit=' + PAGE), get('/v1/patients/' + id + '/audit?limit=' + PAGE), get('/v1/patients/' + id + '/records?limit=1')])
  if (load !== patientLoads || patientShown !== id) return
  if (!c.ok || !a.ok) { patientSummary = ''; $('pstatus').textContent = (c.body.error || a.body.error).code; return }
  older.consents = c.body.next; older.audit = a.body.next
  shown = { consents: c.body.consents.length, audit: a.body.entries.length, breakGlass: a.body.entries.filter(e => e.breakGlass).length, registered: rec.body.registered }
  $('consents').tBodies[0].innerHTML = c.body.consents.map(consentRow).join('')
  $('audit').tBodies[0].innerHTML = a.body.entries.map(auditRow).join('')
  paintSummary()
}
// Appends the next older page of a list; a reload (live tx) meanwhile wins.
async function loadOlder (list) {
  const id = patientShown, cursor = older[list], load = patientLoads
  if (!id || !cursor) return
  const r = await get('/v1/patients/' + id + '/' + list + '?limit=' + PAGE + '&before=' + encodeURIComponent(cursor))
  if (load !== patientLoads || patientShown !== id || !r.ok) return
  const items = list === 'audit' ? r.body.entries : r.body.consents
  $(list).tBodies[0].insertAdjacentHTML('beforeend', items.map(list === 'audit' ? auditRow : consentRow).join(''))
  older[list] = r.body.next
  shown[list] += items.length
  if (list === 'audit') shown.breakGlass += items.filter(e => e.breakGlass).length
  paintSummary()
}
$('consentsmore').onclick = () => loadOlder('consents')
$('auditmore').onclick = () => loadOlder('audit')
$('txform').onsubmit = e => { e.preventDefault(); location.hash = 'tx=' + $('txid').value.trim() }
$('pform').onsubmit = e => { e.preventDefault(); location.hash = 'patient=' + $('pid').value.trim() }
document.addEventListener('click', e => { const a = e.target.closest('a[data-tx]'); if (a) location.hash = 'tx=' + a.dataset.tx })
function route () {
  const m = /^#(tx|patient)=(.*)$/.exec(location.hash)
  if (m && m[1] === 'tx') showTx(decodeURIComponent(m[2]).trim().toLowerCase())
  if (m && m[1] === 'patient') showPatient(decodeURIComponent(m[2]).trim().toLowerCase())
}
window.addEventListener('hashchange', route)
let pending = false, es = null
// A token is single-use, so a dropped stream is reopened with a fresh one (not EventSource's own retry).
async function openStream () {
  if (es) es.close()
  if (!signKey) { $('live').textContent = 'sign in to follow'; $('live').className = 'bad'; return }
  const mine = es = new EventSource(await streamUrl('/v1/events'))
  es.onopen = () => { $('live').textContent = 'live'; $('live').className = 'ok' }
  es.onerror = () => { $('live').textContent = 'reconnecting'; $('live').className = 'bad'; mine.close(); setTimeout(() => { if (es === mine) openStream() }, 1000) }
  es.addEventListener('block', ev => {
    setHeight(JSON.parse(ev.data).height)
    if (!pending) { pending = true; setTimeout(() => { pending = false; refresh() }, 300) }
  })
  es.addEventListener('tx', ev => addFeed(JSON.parse(ev.data)))
}
$('keyform').onsubmit = async e => {
  e.preventDefault()
  try { await useKey($('key').value.trim()); $('key').value = ''; patientShown = null; await openStream(); refresh(); route() } catch (err) { $('keystatus').textContent = 'key refused: ' + err.message }
}
(sessionStorage.getItem('medchain-key') ? useKey(sessionStorage.getItem('medchain-key')).catch(() => {}) : Promise.resolve()).then(() => { openStream(); refresh(); route() })
setInterval(refresh, 5000)
</script></body></html>`
}

function escapeHtml (s: string): string {
  return s.replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c] as string))
}
