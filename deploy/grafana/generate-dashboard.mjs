// Generates medchain-dashboard.json: node deploy/grafana/generate-dashboard.mjs > deploy/grafana/medchain-dashboard.json
const sel = 'job=~"$job", instance=~"$instance"'
const ri = '$__rate_interval'
let id = 0
let y = 0
const panels = []
function row (title) { panels.push({ type: 'row', title, id: ++id, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] }); y += 1 }
function ts (title, unit, targets, w = 8, x = 0, description = '') {
  panels.push({
    type: 'timeseries', title, id: ++id, description,
    datasource: { type: 'prometheus', uid: '${datasource}' },
    gridPos: { h: 8, w, x, y },
    fieldConfig: { defaults: { unit, custom: { lineWidth: 1, fillOpacity: 10 } }, overrides: [] },
    options: { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
    targets: targets.map(([expr, legendFormat], i) => ({ refId: String.fromCharCode(65 + i), expr, legendFormat, datasource: { type: 'prometheus', uid: '${datasource}' } }))
  })
}
function stat (title, unit, expr, x, w = 6, description = '') {
  panels.push({
    type: 'stat', title, id: ++id, description,
    datasource: { type: 'prometheus', uid: '${datasource}' },
    gridPos: { h: 4, w, x, y },
    fieldConfig: { defaults: { unit }, overrides: [] },
    options: { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area' },
    targets: [{ refId: 'A', expr, datasource: { type: 'prometheus', uid: '${datasource}' } }]
  })
}
row('Overview')
stat('Height (max)', 'none', `max(medchain_chain_height{${sel}})`, 0)
stat('Committed tx/s', 'reqps', `sum(rate(medchain_chain_txs_committed_total{${sel}}[${ri}])) / count(medchain_chain_height{${sel}})`, 6, 6, 'Per node, averaged: every node commits every transaction.')
stat('Validators up', 'none', `count(up{${sel}} == 1)`, 12)
stat('Submit→commit p99', 's', `histogram_quantile(0.99, sum by (le) (rate(medchain_tx_submit_to_commit_seconds_bucket{${sel}}[${ri}])))`, 18)
y += 4
row('Throughput and latency')
ts('Committed transactions per second', 'reqps', [[`sum by (instance) (rate(medchain_chain_txs_committed_total{${sel}}[${ri}]))`, '{{instance}}']], 8, 0)
ts('Committed by kind and result', 'reqps', [[`sum by (kind, result) (rate(medchain_chain_txs_committed_total{${sel}}[${ri}]))`, '{{kind}} {{result}}']], 8, 8)
ts('Rejected at admission, by reason', 'reqps', [[`sum by (reason) (rate(medchain_txs_rejected_total{${sel}}[${ri}]))`, '{{reason}}'], [`sum by (source) (rate(medchain_txs_received_total{${sel}}[${ri}]))`, 'received {{source}}']], 8, 16)
y += 8
ts('Submit→commit latency quantiles', 's', [
  [`histogram_quantile(0.5, sum by (le) (rate(medchain_tx_submit_to_commit_seconds_bucket{${sel}}[${ri}])))`, 'p50'],
  [`histogram_quantile(0.9, sum by (le) (rate(medchain_tx_submit_to_commit_seconds_bucket{${sel}}[${ri}])))`, 'p90'],
  [`histogram_quantile(0.99, sum by (le) (rate(medchain_tx_submit_to_commit_seconds_bucket{${sel}}[${ri}])))`, 'p99']
], 8, 0)
ts('Block execution and storage commit p99', 's', [
  [`histogram_quantile(0.99, sum by (le, instance) (rate(medchain_chain_block_execution_seconds_bucket{${sel}}[${ri}])))`, 'execute {{instance}}'],
  [`histogram_quantile(0.99, sum by (le, instance) (rate(medchain_storage_commit_seconds_bucket{${sel}}[${ri}])))`, 'commit {{instance}}']
], 8, 8)
ts('Block size', 'none', [
  [`sum by (instance) (rate(medchain_chain_block_txs_sum{${sel}}[${ri}])) / sum by (instance) (rate(medchain_chain_block_txs_count{${sel}}[${ri}]))`, 'txs/block {{instance}}'],
  [`sum by (instance) (rate(medchain_chain_block_size_bytes_sum{${sel}}[${ri}])) / sum by (instance) (rate(medchain_chain_block_size_bytes_count{${sel}}[${ri}]))`, 'bytes/block {{instance}}']
], 8, 16)
y += 8
row('Chain and consensus')
ts('Height per node', 'none', [[`medchain_chain_height{${sel}}`, '{{instance}}']], 8, 0)
ts('Blocks per second', 'none', [[`rate(medchain_chain_blocks_committed_total{${sel}}[${ri}])`, '{{instance}}']], 8, 8)
ts('Seconds since last block (block time)', 's', [[`time() - medchain_chain_last_block_time_seconds{${sel}}`, '{{instance}}']], 8, 16)
y += 8
ts('Rounds per height (mean) and current round', 'none', [
  [`rate(medchain_consensus_rounds_per_height_sum{${sel}}[${ri}]) / rate(medchain_consensus_rounds_per_height_count{${sel}}[${ri}])`, 'mean {{instance}}'],
  [`medchain_consensus_round{${sel}}`, 'round {{instance}}']
], 8, 0)
ts('Timeouts fired by step', 'none', [[`sum by (step) (increase(medchain_consensus_timeouts_total{${sel}}[${ri}]))`, '{{step}}']], 8, 8)
ts('Height duration p50 / p99', 's', [
  [`histogram_quantile(0.5, sum by (le) (rate(medchain_consensus_height_duration_seconds_bucket{${sel}}[${ri}])))`, 'p50'],
  [`histogram_quantile(0.99, sum by (le) (rate(medchain_consensus_height_duration_seconds_bucket{${sel}}[${ri}])))`, 'p99']
], 8, 16)
y += 8
ts('Commits behind, per validator', 'none', [[`medchain_chain_height{${sel}} - on (instance, job) group_right medchain_consensus_validator_last_commit_height{${sel}}`, '{{validator}} seen by {{instance}}']], 8, 0, 'Heights since the validator\'s precommit last appeared in a commit certificate.')
ts('Missed commits per validator', 'none', [[`sum by (validator) (increase(medchain_consensus_validator_missed_commits_total{${sel}}[${ri}]))`, '{{validator}}']], 8, 8)
ts('Proposals and evidence', 'none', [
  [`sum by (instance) (increase(medchain_consensus_proposals_total{${sel}}[${ri}]))`, 'proposals {{instance}}'],
  [`sum(increase(medchain_consensus_evidence_total{${sel}}[${ri}]))`, 'evidence']
], 8, 16)
y += 8
row('Mempool, peers and sync')
ts('Mempool', 'none', [[`medchain_mempool_txs{${sel}}`, 'txs {{instance}}'], [`medchain_mempool_txs{${sel}} / medchain_mempool_capacity_txs{${sel}}`, 'fill {{instance}}']], 8, 0)
ts('Mempool bytes', 'bytes', [[`medchain_mempool_bytes{${sel}}`, '{{instance}}']], 8, 8)
ts('Peers connected', 'none', [[`medchain_p2p_peers{${sel}}`, '{{instance}}'], [`medchain_consensus_validators{${sel}} - 1`, 'possible']], 8, 16)
y += 8
ts('Messages by topic', 'none', [
  [`sum by (topic) (rate(medchain_p2p_messages_received_total{${sel}}[${ri}]))`, 'in {{topic}}'],
  [`sum by (topic) (rate(medchain_p2p_messages_sent_total{${sel}}[${ri}]))`, 'out {{topic}}']
], 8, 0)
ts('Block sync', 'none', [
  [`medchain_sync_target_height{${sel}} - medchain_chain_height{${sel}}`, 'behind {{instance}}'],
  [`medchain_sync_active{${sel}}`, 'syncing {{instance}}'],
  [`rate(medchain_sync_blocks_applied_total{${sel}}[${ri}])`, 'synced blocks/s {{instance}}']
], 8, 8)
ts('Signature verifications', 'none', [
  [`sum by (what) (rate(medchain_crypto_signature_verifications_total{${sel}}[${ri}]))`, '{{what}} /s'],
  [`sum(rate(medchain_crypto_signature_verify_seconds_total{${sel}}[${ri}])) / sum(rate(medchain_crypto_signature_verifications_total{${sel}, what="tx"}[${ri}]))`, 'seconds per tx verify']
], 8, 16)
y += 8
row('Process')
ts('CPU', 'percentunit', [[`rate(process_cpu_seconds_total{${sel}}[${ri}])`, '{{instance}}']], 8, 0)
ts('Memory', 'bytes', [[`process_resident_memory_bytes{${sel}}`, 'rss {{instance}}'], [`nodejs_heap_size_used_bytes{${sel}}`, 'heap {{instance}}']], 8, 8)
ts('Event loop lag p99 and API requests', 's', [[`nodejs_eventloop_lag_p99_seconds{${sel}}`, 'lag {{instance}}'], [`sum by (route, status) (rate(medchain_api_requests_total{${sel}}[${ri}]))`, '{{route}} {{status}}']], 8, 16)
y += 8
const dash = {
  __comment: 'medchain operator dashboard; every query is checked against a live devnet by test/ops/prometheus.test.ts',
  title: 'medchain consortium',
  uid: 'medchain-overview',
  tags: ['medchain'],
  timezone: 'browser',
  schemaVersion: 39,
  version: 1,
  editable: true,
  refresh: '5s',
  time: { from: 'now-30m', to: 'now' },
  templating: {
    list: [
      { name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus', current: {} },
      { name: 'job', label: 'job', type: 'query', datasource: { type: 'prometheus', uid: '${datasource}' }, query: { query: 'label_values(medchain_chain_height, job)', refId: 'job' }, definition: 'label_values(medchain_chain_height, job)', includeAll: true, multi: true, allValue: '.+', refresh: 1, current: {} },
      { name: 'instance', label: 'node', type: 'query', datasource: { type: 'prometheus', uid: '${datasource}' }, query: { query: 'label_values(medchain_chain_height{job=~"$job"}, instance)', refId: 'instance' }, definition: 'label_values(medchain_chain_height{job=~"$job"}, instance)', includeAll: true, multi: true, allValue: '.+', refresh: 1, current: {} }
    ]
  },
  annotations: { list: [] },
  panels
}
process.stdout.write(JSON.stringify(dash, null, 2) + '\n')
