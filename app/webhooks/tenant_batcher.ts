/**
 * Coalesces the same kind of small database work of many deliveries of one
 * tenant into one tenant transaction (docs/design/webhooks.md,
 * "Throughput"). Every delivery reads its row before its HTTP call and
 * writes its outcome after it, each a transaction of one round trip; with
 * 64 deliveries at once and a pool of 10 connections, the deliveries spent
 * most of their time waiting for a connection (p50 120–250 ms for the
 * read alone in the bench, against a few ms for the HTTP call), and every
 * transaction pays the tenant entry again.
 *
 * So the reads (or outcomes) of one tenant submitted in the same turn of
 * the event loop are sent together at the end of that turn, at most `max`
 * at once; nothing waits for a batch already in flight. (Holding new work
 * back while a tenant's batch ran, to grow the next one, made the reads
 * of the bench's backlog 2–3× slower: batches stayed near one delivery,
 * and each waited for the one before.) A lone delivery waits for nothing
 * but its own round trip; deliveries started together (a burst after a
 * batch of confirmed orders) share a transaction. Tenants never share a
 * batch (the tenant is set per transaction).
 *
 * A batch that fails fails every delivery in it, as each would alone: its
 * job is retried (the same webhook-id; at least once).
 */
interface Entry<I, O> {
  item: I
  resolve: (value: O) => void
  reject: (error: unknown) => void
}

export class TenantBatcher<I, O> {
  readonly #pending = new Map<number, Entry<I, O>[]>()
  #scheduled = false

  constructor(
    /** Runs one batch in one tenant transaction: one result per item, in order. */
    private readonly run: (tenantId: number, items: I[]) => Promise<O[]>,
    private readonly max = 64
  ) {}

  submit(tenantId: number, item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      let entries = this.#pending.get(tenantId)
      if (!entries) this.#pending.set(tenantId, (entries = []))
      entries.push({ item, resolve, reject })
      if (this.#scheduled) return
      this.#scheduled = true
      setImmediate(() => this.#flush())
    })
  }

  #flush() {
    this.#scheduled = false
    const pending = [...this.#pending]
    this.#pending.clear()
    for (const [tenantId, entries] of pending) {
      for (let start = 0; start < entries.length; start += this.max) {
        this.#send(tenantId, entries.slice(start, start + this.max))
      }
    }
  }

  #send(tenantId: number, batch: Entry<I, O>[]) {
    this.run(
      tenantId,
      batch.map((entry) => entry.item)
    ).then(
      (results) => batch.forEach((entry, index) => entry.resolve(results[index])),
      (error) => batch.forEach((entry) => entry.reject(error))
    )
  }
}
