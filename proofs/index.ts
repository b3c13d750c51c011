export * from './proofs.js'
export * from './build.js'
