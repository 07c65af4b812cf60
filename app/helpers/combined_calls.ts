/**
 * Combines calls of one key that arrive while one of that key is running
 * (group commit): the first call of a key runs at once, alone; calls made
 * while it runs wait for it and then run together, as one batch of at most
 * `maxBatch` items, and so on. No timer, so a lone call waits for nothing,
 * and batches form by themselves exactly when the work is slow (its round
 * trip takes longer than the gap between calls).
 *
 * `run` gets the items of one batch and answers one result per item, in
 * their order; when it throws, every call of that batch fails with its
 * error, and the next batch of the key still runs. Keys never wait for
 * each other.
 */
export class CombinedCalls<K, I, O> {
  private pending = new Map<
    K,
    { item: I; resolve(value: O): void; reject(error: unknown): void }[]
  >()
  private running = new Set<K>()

  constructor(
    private readonly run: (key: K, items: I[]) => Promise<O[]>,
    private readonly maxBatch = 32
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
        const queue = this.pending.get(key)
        if (!queue || queue.length === 0) break
        const batch = queue.splice(0, this.maxBatch)
        if (queue.length === 0) this.pending.delete(key)
        try {
          const results = await this.run(
            key,
            batch.map((call) => call.item)
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
}
