import type { Command } from 'commander'

export interface TlsFileOptions { ca?: string, cert?: string, certKey?: string }

/** --ca, --cert and --cert-key: what an https:// node is trusted by and, for mTLS, shown. */
export function tlsOptions (cmd: Command): Command {
  return cmd
    .option('--ca <file>', 'PEM CA the node\'s certificate must chain to (env MEDCHAIN_CA; a testnet\'s is <out>/ca/ca.pem)')
    .option('--cert <file>', 'PEM client certificate for a node that requires one, mTLS (env MEDCHAIN_CLIENT_CERT)')
    .option('--cert-key <file>', 'PEM key of --cert (env MEDCHAIN_CLIENT_KEY)')
}
