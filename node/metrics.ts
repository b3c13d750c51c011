import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * Every metric of a node, declared here and nowhere else. One object is created per
 * node and handed to the parts that record; nothing is global, so two nodes in one
 * process (tests) never share counters. Names follow Prometheus conventions:
 * medchain_<subsystem>_<thing>_<unit|total>.
 */
export function createMetrics (register: Registry = new Registry()) {
  const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10]
  const fastBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]
  const registers = [register]
  collectDefaultMetrics({ register })
  return {
    register,
    // chain
    height: new Gauge({ name: 'medchain_chain_height', help: 'Height of the last committed block', registers }),
    lastBlockTime: new Gauge({ name: 'medchain_chain_last_block_time_seconds', help: 'Block time of the last committed block (unix seconds)', registers }),
    blocksCommitted: new Counter({ name: 'medchain_chain_blocks_committed_total', help: 'Blocks committed by this node', registers }),
    txsCommitted: new Counter({ name: 'medchain_chain_txs_committed_total', help: 'Transactions committed, by kind and result code', labelNames: ['kind', 'result'] as const, registers }),
    blockTxs: new Histogram({ name: 'medchain_chain_block_txs', help: 'Transactions per committed block', buckets: [0, 1, 10, 50, 100, 250, 500, 1000, 2000, 4000, 8000], registers }),
    blockBytes: new Histogram({ name: 'medchain_chain_block_size_bytes', help: 'Encoded size of committed blocks', buckets: [1e3, 1e4, 5e4, 1e5, 2.5e5, 5e5, 1e6, 2e6, 4e6], registers }),
    stateCommitSeconds: new Counter({ name: 'medchain_state_commit_seconds_total', help: 'CPU time (user + system) spent on the state commitment: hashing writes into the state tree, encoding its nodes, applying them', registers }),
    blockExecution: new Histogram({ name: 'medchain_chain_block_execution_seconds', help: 'Time to execute a block in the ledger', buckets: fastBuckets, registers }),
    storageWrite: new Histogram({ name: 'medchain_storage_commit_seconds', help: 'Time to write a block and its state in one durable batch', buckets: fastBuckets, registers }),
    storageWriteBytes: new Counter({ name: 'medchain_storage_written_bytes_total', help: 'Bytes written to LevelDB in block commits', registers }),
    // transactions
    txsRejected: new Counter({ name: 'medchain_txs_rejected_total', help: 'Transactions refused at submission or gossip, by reason code', labelNames: ['reason'] as const, registers }),
    txsReceived: new Counter({ name: 'medchain_txs_received_total', help: 'Transactions received, by source (api or gossip)', labelNames: ['source'] as const, registers }),
    submitToCommit: new Histogram({ name: 'medchain_tx_submit_to_commit_seconds', help: 'Time from API submission to commit, for transactions submitted to this node', buckets: latencyBuckets, registers }),
    // mempool
    mempoolTxs: new Gauge({ name: 'medchain_mempool_txs', help: 'Transactions in the mempool', registers }),
    mempoolBytes: new Gauge({ name: 'medchain_mempool_bytes', help: 'Bytes in the mempool', registers }),
    mempoolCapacityTxs: new Gauge({ name: 'medchain_mempool_capacity_txs', help: 'Mempool capacity in transactions', registers }),
    mempoolEvicted: new Counter({ name: 'medchain_mempool_evicted_total', help: 'Transactions evicted (stale nonce or TTL)', registers }),
    // consensus
    round: new Gauge({ name: 'medchain_consensus_round', help: 'Current consensus round', registers }),
    step: new Gauge({ name: 'medchain_consensus_step', help: 'Current step (0 propose, 1 prevote, 2 precommit, 3 commit)', registers }),
    roundsPerHeight: new Histogram({ name: 'medchain_consensus_rounds_per_height', help: 'Rounds needed to commit a height (1 = first round)', buckets: [1, 2, 3, 4, 5, 8, 13], registers }),
    heightDuration: new Histogram({ name: 'medchain_consensus_height_duration_seconds', help: 'Wall time from entering a height to committing it', buckets: latencyBuckets, registers }),
    timeouts: new Counter({ name: 'medchain_consensus_timeouts_total', help: 'Consensus timeouts fired, by step', labelNames: ['step'] as const, registers }),
    proposals: new Counter({ name: 'medchain_consensus_proposals_total', help: 'Blocks this validator proposed', registers }),
    evidence: new Counter({ name: 'medchain_consensus_evidence_total', help: 'Conflicting-vote evidence seen', registers }),
    validatorLastHeight: new Gauge({ name: 'medchain_consensus_validator_last_commit_height', help: 'Last height whose commit certificate carried this validator\'s precommit', labelNames: ['validator'] as const, registers }),
    validatorMissed: new Counter({ name: 'medchain_consensus_validator_missed_commits_total', help: 'Commit certificates without this validator\'s precommit', labelNames: ['validator'] as const, registers }),
    validators: new Gauge({ name: 'medchain_consensus_validators', help: 'Validators in the set', registers }),
    validatorsHeard: new Gauge({ name: 'medchain_consensus_validators_heard', help: 'Validators (this one included) whose consensus messages arrived within the readiness window (10 s)', registers }),
    // crypto
    sigVerifications: new Counter({ name: 'medchain_crypto_signature_verifications_total', help: 'Ed25519 verifications, by what was verified', labelNames: ['what'] as const, registers }),
    sigVerifySeconds: new Counter({ name: 'medchain_crypto_signature_verify_seconds_total', help: 'Time spent verifying Ed25519 signatures', registers }),
    // p2p
    peers: new Gauge({ name: 'medchain_p2p_peers', help: 'Connected member peers', registers }),
    p2pMessagesIn: new Counter({ name: 'medchain_p2p_messages_received_total', help: 'Messages received, by topic', labelNames: ['topic'] as const, registers }),
    p2pMessagesOut: new Counter({ name: 'medchain_p2p_messages_sent_total', help: 'Messages sent, by topic', labelNames: ['topic'] as const, registers }),
    p2pBytesIn: new Counter({ name: 'medchain_p2p_received_bytes_total', help: 'Bytes received, by topic', labelNames: ['topic'] as const, registers }),
    p2pBytesOut: new Counter({ name: 'medchain_p2p_sent_bytes_total', help: 'Bytes sent, by topic', labelNames: ['topic'] as const, registers }),
    p2pDropped: new Counter({ name: 'medchain_p2p_messages_dropped_total', help: 'Messages dropped, by topic and reason', labelNames: ['topic', 'reason'] as const, registers }),
    syncTargetHeight: new Gauge({ name: 'medchain_sync_target_height', help: 'Highest height reported by a peer', registers }),
    syncBlocks: new Counter({ name: 'medchain_sync_blocks_applied_total', help: 'Blocks applied through block sync', registers }),
    syncing: new Gauge({ name: 'medchain_sync_active', help: '1 while the node is catching up by block sync', registers }),
    // api
    httpRequests: new Counter({ name: 'medchain_api_requests_total', help: 'HTTP requests, by route and status', labelNames: ['route', 'status'] as const, registers }),
    eventSubscribers: new Gauge({ name: 'medchain_api_event_subscribers', help: 'Open server-sent event streams', registers }),
    eventSubscribersDropped: new Counter({ name: 'medchain_api_event_subscribers_dropped_total', help: 'Event streams disconnected because the client left too much unread', registers }),
    authSeconds: new Histogram({ name: 'medchain_api_auth_seconds', help: 'Time to authenticate a request (token checks and identity lookup)', buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01], registers }),
    authRefused: new Counter({ name: 'medchain_api_auth_refused_total', help: 'Requests refused by authentication (401) or the access table (403), by code', labelNames: ['code'] as const, registers }),
    rateLimited: new Counter({ name: 'medchain_api_rate_limited_total', help: 'Requests refused with 429 by the per-identity rate limit, by kind (read or write)', labelNames: ['kind'] as const, registers })
  }
}

export type Metrics = ReturnType<typeof createMetrics>
