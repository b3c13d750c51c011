import t from 'tap'
import { toHex, utf8 } from '../../codec/index.js'
import { Ed25519Signer, merkleProof, merkleRoot, sha256 } from '../../crypto/index.js'
import { blockHash, voteSignBody, ZERO_HASH, type BlockHeader, type Commit } from '../../consensus/index.js'
import { decodeResultLeaf, encodeResultLeaf, keys, type BlockExecution, type TxBody } from '../../ledger/index.js'
import { proofFromJson, proofToJson, verifyProof, type StateProof, type StateQuestion, type TxReceipt } from '../../proofs/index.js'
import { CHAIN, DAY, world, type Chain } from '../ledger/harness.js'

// Four validators of equal power sign precommits with real ed25519 keys; an outsider does not belong.
const signers = [0, 1, 2, 3].map(i => new Ed25519Signer(sha256(utf8(`validator-${i}`))))
const outsider = new Ed25519Signer(sha256(utf8('outsider')))
const trust = { chainId: CHAIN, validators: signers.map(s => ({ publicKey: s.publicKey, power: 1 })) }

function headerOf (c: Chain, exec: BlockExecution, txs: Uint8Array[]): BlockHeader {
  return {
    chainId: CHAIN, height: exec.height, time: c.time, proposer: signers[0].publicKey, prevHash: ZERO_HASH, lastCommitHash: ZERO_HASH,
    txRoot: merkleRoot(txs), txCount: txs.length, stateRoot: exec.stateRoot, resultsRoot: exec.resultsRoot
  }
}

function commitOf (h: BlockHeader, by: Array<{ index: number, signer: Ed25519Signer }>): Commit {
  const blockHashBytes = blockHash(h)
  const body = voteSignBody(h.height, 0, blockHashBytes)
  return { height: h.height, round: 0, blockHash: blockHashBytes, signatures: by.map(b => ({ validatorIndex: b.index, signature: b.signer.sign('precommit', CHAIN, body) })) }
}
const quorum = [0, 1, 2].map(index => ({ index, signer: signers[index] }))

const grantBody = (c: Chain): TxBody<'consent.grant'> => ({
  grantee: { type: 'provider', key: c.key('drA') }, categories: ['labs'], actions: ['read'], purposes: ['TREAT'], validFrom: c.time, validUntil: c.time + 90 * DAY
})

/** Runs one block and returns its header (certified by validators 0-2) with the txs' bytes. */
function certified (c: Chain, txs: ReturnType<Chain['tx']>[]): { exec: BlockExecution, header: BlockHeader, commit: Commit, bytes: Uint8Array[] } {
  const exec = c.block(txs)
  const bytes = txs.map(x => x.bytes)
  const header = headerOf(c, exec, bytes)
  return { exec, header, commit: commitOf(header, quorum), bytes }
}

function stateProof (c: Chain, b: { header: BlockHeader, commit: Commit }, question: StateQuestion, key: string): StateProof {
  return { type: 'state', chainId: CHAIN, height: b.header.height, question, key, value: c.state.getBytes(key) ?? null, proof: c.state.proveKey(key), header: b.header, commit: b.commit }
}

/** Round trip through the JSON a node serves, as `medchain verify` reads it. */
const viaJson = <T extends TxReceipt | StateProof>(d: T): T => proofFromJson(JSON.parse(JSON.stringify(proofToJson(d)))) as T

t.test('a receipt proves the result and the audit entry; an edited result fails', async t => {
  const c = world()
  const pat = c.key('pat')
  c.block([c.tx('pat', 'consent.grant', grantBody(c))])
  const b = certified(c, [
    c.tx('drA', 'access.log', { patient: pat, category: 'labs', action: 'read', purpose: 'TREAT' }),
    c.tx('drB', 'access.log', { patient: pat, category: 'labs', action: 'read', purpose: 'TREAT' })
  ])
  const receipt = (i: number): TxReceipt => ({
    type: 'tx', chainId: CHAIN, height: b.header.height, index: i, tx: b.bytes[i], result: b.exec.resultLeaves[i],
    txProof: merkleProof(b.bytes, i), resultProof: merkleProof(b.exec.resultLeaves, i), header: b.header, commit: b.commit
  })
  const permit = verifyProof(viaJson(receipt(0)), trust)
  t.match(permit.statement, /access\.log [0-9a-f]{64} was committed at height \d+ \(tx 0 of 2\) with result OK; decision permit \(\w+\); 1 audit entry \(audit\//)
  t.match(permit.statement, /signed by 3 of 4 validators$/)
  const deny = verifyProof(receipt(1), trust)
  t.match(deny.facts, { code: 'OK', decision: { permit: false } }, 'the other provider was denied, and the receipt proves it')
  t.equal(decodeResultLeaf(b.exec.resultLeaves[1]).audit[0][0], b.exec.appends[1][0], 'the audit entry of the denial is in its result leaf')

  // A node that says "permit" for the denied access: the edited leaf is not under the results root.
  const leaf = decodeResultLeaf(b.exec.resultLeaves[1])
  const edited = encodeResultLeaf({ ...leaf, decision: { permit: true, reason: leaf.decision!.reason } })
  t.throws(() => verifyProof({ ...receipt(1), result: edited }, trust), { code: 'PROOF_BAD_RESULT_PROOF' })
  t.throws(() => verifyProof({ ...receipt(0), result: b.exec.resultLeaves[1] }, trust), { code: 'PROOF_BAD_RESULT_PROOF' }, "another tx's result at this index fails")
  t.throws(() => verifyProof({ ...receipt(0), header: { ...b.header, resultsRoot: sha256(edited) } }, trust), { code: 'PROOF_BAD_COMMIT' }, 'a header with another results root is not the certified block')
})

t.test('consent state proofs: revoked verifies, the same proof against a later header (re-granted) fails, never-granted is proven absent', async t => {
  const c = world()
  const pat = c.key('pat')
  const grantTx = c.tx('pat', 'consent.grant', grantBody(c))
  c.block([grantTx])
  const revoked = certified(c, [c.tx('pat', 'consent.revoke', { grantId: grantTx.id })])
  const key = keys.consent(pat, grantTx.id)
  const question: StateQuestion = { kind: 'consent', patient: pat, grant: grantTx.id }
  const proof = viaJson(stateProof(c, revoked, question, key))
  const v = verifyProof(proof, trust)
  t.match(v.statement, new RegExp(`^consent ${toHex(grantTx.id).slice(0, 12)}… of patient ${toHex(pat).slice(0, 12)}… was revoked at height ${revoked.header.height} \\(state at height ${revoked.header.height}\\); signed by 3 of 4 validators$`))
  t.match(v.facts, { status: 'revoked', revokedAt: revoked.header.height })

  // The patient grants again; the new header's state root no longer matches the old proof.
  const regranted = certified(c, [c.tx('pat', 'consent.grant', grantBody(c))])
  t.throws(() => verifyProof({ ...proof, height: regranted.header.height, header: regranted.header, commit: regranted.commit }, trust), { code: 'PROOF_BAD_STATE_PROOF' })
  // A value edited by the node (one byte flipped) fails against the header that holds the real one.
  const honest = stateProof(c, regranted, question, key)
  const flipped = honest.value!.slice(); flipped[flipped.length - 1] ^= 1
  t.throws(() => verifyProof({ ...honest, value: flipped }, trust), { code: 'PROOF_BAD_STATE_PROOF' })

  const never = sha256(utf8('never granted'))
  const absent = viaJson(stateProof(c, regranted, { kind: 'consent', patient: pat, grant: never }, keys.consent(pat, never)))
  t.equal(absent.value, null)
  t.match(verifyProof(absent, trust).statement, /^consent [0-9a-f]{12}… of patient [0-9a-f]{12}… does not exist \(state at height \d+\); signed by 3 of 4 validators$/)
  // An absence claim for a key that exists fails.
  t.throws(() => verifyProof({ ...stateProof(c, regranted, question, key), value: null }, trust), { code: 'PROOF_BAD_STATE_PROOF' })
  // A proof of one key can not answer another question.
  t.throws(() => verifyProof({ ...absent, question }, trust), { code: 'PROOF_KEY_MISMATCH' })
})

t.test('record erasure and patient key proofs say what they prove', async t => {
  const c = world()
  const pat = c.key('pat')
  const anchor = c.tx('pat', 'record.anchor', { patient: pat, category: 'labs', hash: sha256(utf8('lab report')), locator: 'ehr://1', purpose: 'TREAT' })
  c.block([anchor])
  const erased = certified(c, [c.tx('pat', 'record.erase', { patient: pat, record: anchor.id, purpose: 'TREAT' })])
  const rec = verifyProof(viaJson(stateProof(c, erased, { kind: 'record', patient: pat, record: anchor.id }, keys.record(pat, anchor.id))), trust)
  t.match(rec.statement, new RegExp(`^record [0-9a-f]{12}… of patient [0-9a-f]{12}… was erased at height ${erased.header.height} `))
  const who = verifyProof(viaJson(stateProof(c, erased, { kind: 'patient', patient: pat }, keys.patient(pat))), trust)
  t.match(who.statement, new RegExp(`current key is ${toHex(pat)} `))
})

t.test('a forged commit certificate fails: 2 of 4 signatures, a non-validator key, a signature for another block', async t => {
  const c = world()
  const b = certified(c, [c.tx('pat2', 'consent.grant', { ...grantBody(c) })])
  const key = keys.patient(c.key('pat2'))
  const good = stateProof(c, b, { kind: 'patient', patient: c.key('pat2') }, key)
  t.ok(verifyProof(good, trust).statement.length > 0)
  const two = commitOf(b.header, [0, 1].map(index => ({ index, signer: signers[index] })))
  t.throws(() => verifyProof({ ...good, commit: two }, trust), { code: 'PROOF_BAD_COMMIT', message: /COMMIT_INSUFFICIENT_POWER/ })
  const stranger = commitOf(b.header, [{ index: 0, signer: signers[0] }, { index: 1, signer: signers[1] }, { index: 2, signer: outsider }])
  t.throws(() => verifyProof({ ...good, commit: stranger }, trust), { code: 'PROOF_BAD_COMMIT', message: /COMMIT_BAD_SIGNATURE/ })
  const other = commitOf({ ...b.header, time: b.header.time + 1 }, quorum)
  t.throws(() => verifyProof({ ...good, commit: other }, trust), { code: 'PROOF_BAD_COMMIT' })
  t.throws(() => verifyProof(good, { ...trust, chainId: 'other-chain' }), { code: 'PROOF_WRONG_CHAIN' })
})
