import cliProgress from 'cli-progress'

/** A one-line progress bar on stderr (cli-progress draws nothing when stderr is not a TTY). */
export class Progress {
  private readonly bar: cliProgress.SingleBar
  private started = false
  constructor (enabled: boolean) {
    this.bar = new cliProgress.SingleBar({
      format: '{phase} |{bar}| {value}/{total} s | committed {committed} | {rate} tx/s',
      hideCursor: true,
      noTTYOutput: false,
      stream: process.stderr,
      barsize: 30
    }, cliProgress.Presets.shades_classic)
    if (!enabled) this.bar.update = () => {}
    this.enabled = enabled
  }

  private readonly enabled: boolean

  phase (name: string, totalS: number): void {
    if (!this.enabled) return
    if (this.started) this.bar.stop()
    this.bar.start(Math.max(1, Math.round(totalS)), 0, { phase: name.padEnd(16), committed: 0, rate: 0 })
    this.started = true
  }

  update (elapsedS: number, committed: number, rate: number, label?: string): void {
    if (!this.enabled || !this.started) return
    this.bar.update(Math.round(elapsedS), { committed, rate: Math.round(rate), ...(label !== undefined ? { phase: label.padEnd(16) } : {}) })
  }

  stop (): void {
    if (this.started) this.bar.stop()
    this.started = false
  }
}
