import { readFileSync } from 'node:fs'
import { Command } from 'commander'
import { fromHex } from '../../codec/index.js'
import { proofFromJson, verifyProof, type Verified } from '../../proofs/index.js'
import { readGenesis } from '../../node/genesis.js'

/**
 * Checks a receipt or a state proof offline against the genesis alone (its validator set):
 * the certificate, the header, the Merkle proofs. Throws ProofError (PROOF_*) on any failure.
 */
export function verifyDocument (document: unknown, genesisPath: string): Verified {
  const genesis = readGenesis(genesisPath)
  const validators = genesis.validators.map(v => ({ publicKey: fromHex(v.publicKey, 32), power: v.power }))
  return verifyProof(proofFromJson(document), { chainId: genesis.chainId, validators })
}

export function verifyCommand (): Command {
  return new Command('verify')
    .description('check a receipt or state proof offline against genesis.json and say what it proves')
    .argument('<file>', 'receipt or proof JSON (GET /v1/proofs/tx/<id>, /v1/proofs/consent/<patient>/<grant>, /v1/proofs/record/<patient>/<record>, /v1/proofs/patient/<id>)')
    .requiredOption('--genesis <file>', 'the chain\'s genesis.json')
    .action((file: string, o: { genesis: string }) => {
      try {
        const v = verifyDocument(JSON.parse(readFileSync(file, 'utf8')), o.genesis)
        console.log(JSON.stringify({ valid: true, ...v }))
      } catch (err) {
        const e = err as { code?: string, message: string }
        console.log(JSON.stringify({ valid: false, code: e.code ?? 'PROOF_MALFORMED', message: e.message }))
        process.exitCode = 1
      }
    })
}
