/**
 * Combines calls of one key that arrive while one of that key is running
 * (group commit): the first call of a key runs at once, alone; calls made
 * while it runs wait for it and then run together, as one batch of at most
 * `maxBatch` items, and so on. No timer, so a lone call waits for nothing,
 * and batches form by themselves exactly when the work is slow (its round
 * trip takes longer than the gap between calls).
 *
 * `prepare`, when given, is awaited before each batch is cut (say, the
 * lease of a database connection), and its result handed to `run`: calls
 * made while it waits join that batch, so the longer the wait for the
 * resource, the more calls share it. `run` then owns what `prepare` gave
 * (it releases a lease, whatever happens).
 *
 * `run` gets the items of one batch and answers one result per item, in
 * their order; when it (or `prepare`) throws, every call of that batch
 * fails with its error, and the next batch of the key still runs. Keys
 * never wait for each other.
 */
export class CombinedCalls<K, I, O, P = undefined> {
  private pending = new Map<
    K,
    { item: I; resolve(value: O): void; reject(error: unknown): void }[]
  >()
  private running = new Set<K>()

  constructor(
    private readonly run: (key: K, items: I[], prepared: P) => Promise<O[]>,
    private readonly maxBatch = 32,
    private readonly prepare?: (key: K) => Promise<P>
  ) {
    if (!Number.isSafeInteger(maxBatch) || maxBatch < 1) {
      throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`)
    }
  }

  call(key: K, item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      const queue = this.pending.get(key)
      if (queue) queue.push({ item, resolve, reject })
      else this.pending.set(key, [{ item, resolve, reject }])
      if (!this.running.has(key)) void this.drain(key)
    })
  }

  private async drain(key: K) {
    this.running.add(key)
    try {
      for (;;) {
        if (!this.pending.get(key)?.length) break
        let prepared: P
        try {
          prepared = this.prepare ? await this.prepare(key) : (undefined as P)
        } catch (error) {
          for (const call of this.cut(key)) call.reject(error)
          continue
        }
        const batch = this.cut(key)
        try {
          const results = await this.run(
            key,
            batch.map((call) => call.item),
            prepared
          )
          if (results.length !== batch.length) {
            throw new Error(`a batch of ${batch.length} got ${results.length} results`)
          }
          batch.forEach((call, index) => call.resolve(results[index]))
        } catch (error) {
          for (const call of batch) call.reject(error)
        }
      }
    } finally {
      this.running.delete(key)
    }
  }

  /** The next batch of the key, taken off its queue. */
  private cut(key: K) {
    const queue = this.pending.get(key) ?? []
    const batch = queue.splice(0, this.maxBatch)
    if (queue.length === 0) this.pending.delete(key)
    return batch
  }
}
