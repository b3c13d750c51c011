/**
 * The operator's page served at `/`: plain HTML and a little script, no build step.
 * It reads the same JSON API as everyone else and follows /v1/events for live updates.
 */
export function explorerHtml (chainId: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>medchain explorer — ${escapeHtml(chainId)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#17324d;color:#fff;padding:10px 20px;display:flex;gap:24px;align-items:baseline}
header h1{font-size:18px;margin:0}main{padding:16px 20px;display:grid;grid-template-columns:1fr 1fr;gap:16px}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:12px}h2{font-size:15px;margin:0 0 8px}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:3px 6px;border-bottom:1px solid #eef0f3;font-variant-numeric:tabular-nums}
code{font-size:12px;word-break:break-all}.ok{color:#1a7f37}.bad{color:#c62828}input{width:70%;padding:4px;font-family:monospace}
pre{white-space:pre-wrap;word-break:break-all;font-size:12px;max-height:320px;overflow:auto;background:#f6f7f9;padding:6px}
.wide{grid-column:1 / span 2}
</style></head><body>
<header><h1>medchain</h1><span id="chain">${escapeHtml(chainId)}</span><span>height <b id="height">–</b></span><span id="node"></span><span id="live" class="bad">offline</span></header>
<main>
<section><h2>Status</h2><table id="status"></table></section>
<section><h2>Validators</h2><table id="validators"><thead><tr><th>#</th><th>name</th><th>last commit</th><th>live</th></tr></thead><tbody></tbody></table></section>
<section class="wide"><h2>Latest blocks</h2><table id="blocks"><thead><tr><th>height</th><th>txs</th><th>time</th><th>hash</th></tr></thead><tbody></tbody></table></section>
<section><h2>Transaction</h2><form id="txform"><input id="txid" placeholder="tx id (64 hex)"> <button>look up</button></form><pre id="txout"></pre></section>
<section><h2>Patient</h2><form id="pform"><input id="pid" placeholder="patient id (64 hex)"> <button>show</button></form><pre id="pout"></pre></section>
</main>
<script>
const $ = id => document.getElementById(id)
const esc = s => String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]))
async function get (path) { const r = await fetch(path); return r.json() }
async function refresh () {
  const s = await get('/v1/status')
  $('height').textContent = s.height
  $('node').textContent = s.moniker
  $('status').innerHTML = ['height','latestBlockHash','stateRoot','syncing','halted'].map(k => '<tr><th>'+k+'</th><td><code>'+esc(s[k])+'</code></td></tr>').join('') +
    '<tr><th>mempool</th><td>'+s.mempool.txs+' txs</td></tr><tr><th>peers</th><td>'+s.peers.length+'</td></tr>'
  const vs = await get('/v1/validators')
  $('validators').tBodies[0].innerHTML = vs.map(v => '<tr><td>'+v.index+'</td><td>'+esc(v.name)+(v.self?' (this node)':'')+'</td><td>'+v.lastCommitHeight+'</td><td class="'+(s.height - v.lastCommitHeight <= 3 ? 'ok">live' : 'bad">missing')+'</td></tr>').join('')
  const bs = await get('/v1/blocks?limit=15')
  $('blocks').tBodies[0].innerHTML = bs.map(b => '<tr><td>'+b.height+'</td><td>'+b.txCount+'</td><td>'+new Date(b.time).toISOString()+'</td><td><code>'+b.hash.slice(0,16)+'…</code></td></tr>').join('')
}
$('txform').onsubmit = async e => { e.preventDefault(); $('txout').textContent = JSON.stringify(await get('/v1/txs/' + $('txid').value.trim()), null, 2) }
$('pform').onsubmit = async e => {
  e.preventDefault(); const id = $('pid').value.trim()
  const [c, a] = await Promise.all([get('/v1/patients/'+id+'/consents'), get('/v1/patients/'+id+'/audit?limit=200')])
  $('pout').textContent = 'Consents\\n' + JSON.stringify(c, null, 2) + '\\n\\nAudit trail\\n' + JSON.stringify(a, null, 2)
}
let pending = false
const es = new EventSource('/v1/events')
es.onopen = () => { $('live').textContent = 'live'; $('live').className = 'ok' }
es.onerror = () => { $('live').textContent = 'reconnecting'; $('live').className = 'bad' }
es.addEventListener('block', () => { if (!pending) { pending = true; setTimeout(() => { pending = false; refresh() }, 300) } })
refresh(); setInterval(refresh, 5000)
</script></body></html>`
}

function escapeHtml (s: string): string {
  return s.replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c] as string))
}
