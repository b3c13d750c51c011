import type { Db } from './db.js'
import { StorageError } from './errors.js'

/** What every repository shares: the database and the open/closed guard. */
export class StoreContext {
  closed = false
  constructor (readonly db: Db, readonly location: string) {}

  assertOpen (): void {
    if (this.closed) throw new StorageError('STORE_CLOSED', `store at ${this.location} is closed`, this.location)
  }
}
