#!/usr/bin/env node
import '../node/polyfill.js'
import { buildProgram } from './program.js'

buildProgram().parseAsync(process.argv).catch((err: unknown) => {
  const e = err as { code?: string, message?: string }
  console.error(`error${e.code !== undefined ? ` [${e.code}]` : ''}: ${e.message ?? String(err)}`)
  process.exit(1)
})
