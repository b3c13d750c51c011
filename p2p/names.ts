// Topic and protocol names are per chain, so two chains never mix traffic even on one host.
export interface ChainProtocols {
  txTopic: string
  consensusTopic: string
  status: string
  sync: string
  consensusDirect: string
  txDirect: string
}

const CHAIN_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/

export function isValidChainId (chainId: string): boolean {
  return CHAIN_ID.test(chainId)
}

export function chainProtocols (chainId: string): ChainProtocols {
  const base = `/medchain/${chainId}`
  return {
    txTopic: `${base}/txs/1`,
    consensusTopic: `${base}/consensus/1`,
    status: `${base}/status/1`,
    sync: `${base}/sync/1`,
    consensusDirect: `${base}/consensus-direct/1`,
    txDirect: `${base}/txs-direct/1`
  }
}
