/**
 * The first byte of every LevelDB key. One enum for the whole store so two repositories can
 * never share a keyspace. A retired bucket keeps its number, commented out: numbers are never reused.
 */
export enum Bucket {
  /** Single-key records: chain identity, chain head. */
  meta = 1,
  /** height (u64be) → encoded block bytes */
  blockBytes = 2,
  /** height (u64be) → CBOR HeaderSummary */
  blockSummary = 3,
  /** block hash (32 bytes) → height (u64be) */
  blockHashToHeight = 4,
  /** height (u64be) → commit certificate bytes (the signed precommits for that block) */
  commitCert = 5,
  /** tx id (32 bytes) → CBOR TxLocation */
  txIndex = 6,
  /** utf8 key → value: mutable ledger state, streamed whole on restart */
  state = 7,
  /** utf8 key → value: append-only ledger records (audit trail), read only by prefix scans */
  appends = 8,
  /** tree position (u16be depth ‖ path prefix) → 65-byte node of the ledger's state tree (current version only) */
  stateNodes = 9,
  /** height (u64be) → CBOR array of the block's encoded result leaves (what its resultsRoot commits to) */
  results = 10
}

/** Keys inside Bucket.meta. */
export const MetaKey = {
  chain: 1,
  head: 2
} as const
