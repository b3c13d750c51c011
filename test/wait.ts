// The one way tests wait: poll a probe until it gives a positive sign, or fail after a
// timeout saying what was awaited. A test that wants to show something did NOT happen
// first waits for a positive sign that it would have happened by now (a later message
// arrived, a counter moved), then asserts the absence; a fixed sleep proves nothing on a
// slow machine.

export function sleep (ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}

export class WaitTimeoutError extends Error {
  readonly code = 'TEST_WAIT_TIMEOUT'
  constructor (readonly what: string, readonly timeoutMs: number, readonly lastError: unknown) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}${lastError !== undefined ? `: ${lastError instanceof Error ? lastError.message : String(lastError)}` : ''}`)
    this.name = 'WaitTimeoutError'
  }
}

/**
 * Calls `probe` every `everyMs` until it returns something other than null, undefined or
 * false, and returns that. A probe that throws counts as "not yet" (a server still
 * starting); the last error is in the timeout's message.
 */
export async function waitFor<T> (what: string, timeoutMs: number, probe: () => T | null | undefined | false | Promise<T | null | undefined | false>, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const v = await probe()
      if (v !== null && v !== undefined && v !== false) return v
    } catch (err) { lastError = err }
    if (Date.now() >= deadline) throw new WaitTimeoutError(what, timeoutMs, lastError)
    await sleep(everyMs)
  }
}
