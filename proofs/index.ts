export * from './proofs.js'
export * from './build.js'
export * from './chainCheck.js'
