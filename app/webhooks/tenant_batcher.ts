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
 * So per tenant at most one batch of a kind is in flight: what arrives
 * while it runs is sent together as soon as it ends (at most `max` at
 * once), and what arrives when none is in flight goes at the end of the
 * current turn of the event loop, with whatever else arrived in that
 * turn. A lone delivery therefore waits for nothing but its own round
 * trip; a burst of one tenant's deliveries costs one transaction per round
 * trip instead of one per delivery. Tenants never share a batch (the
 * tenant is set per transaction), and one tenant's batch never waits for
 * another's.
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
  readonly #busy = new Set<number>()
  readonly #scheduled = new Set<number>()

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
      if (this.#busy.has(tenantId) || this.#scheduled.has(tenantId)) return
      this.#scheduled.add(tenantId)
      setImmediate(() => {
        this.#scheduled.delete(tenantId)
        this.#flush(tenantId)
      })
    })
  }

  #flush(tenantId: number) {
    const entries = this.#pending.get(tenantId)
    if (!entries || entries.length === 0 || this.#busy.has(tenantId)) return
    const batch = entries.splice(0, this.max)
    if (entries.length === 0) this.#pending.delete(tenantId)
    this.#busy.add(tenantId)
    this.run(
      tenantId,
      batch.map((entry) => entry.item)
    )
      .then(
        (results) => batch.forEach((entry, index) => entry.resolve(results[index])),
        (error) => batch.forEach((entry) => entry.reject(error))
      )
      .finally(() => {
        this.#busy.delete(tenantId)
        this.#flush(tenantId)
      })
  }
}
