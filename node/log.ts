/** Structured one-line JSON logs on stdout; the level comes from config. */
export interface Logger {
  debug (msg: string, fields?: Record<string, unknown>): void
  info (msg: string, fields?: Record<string, unknown>): void
  warn (msg: string, fields?: Record<string, unknown>): void
  error (msg: string, fields?: Record<string, unknown>): void
}

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const

export function createLogger (name: string, level: keyof typeof LEVELS, write: (line: string) => void = line => process.stdout.write(line + '\n')): Logger {
  const min = LEVELS[level]
  const at = (lvl: keyof typeof LEVELS) => (msg: string, fields?: Record<string, unknown>): void => {
    if (LEVELS[lvl] < min) return
    write(JSON.stringify({ t: new Date().toISOString(), level: lvl, node: name, msg, ...fields }))
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}
