import type pg from 'pg'

/**
 * Rename floor: `alter schema … rename to …` of a schema holding one
 * table, alone, on a bare pg client (one round trip, commit included):
 * what claiming a spare of the pool cannot go below. The schema is renamed
 * back afterwards (not timed).
 *
 * The provisioning scenario takes one sample before each sign-up it times
 * from the pool. Returns the ms.
 */
const A = 'bench_rename_floor_a'
const B = 'bench_rename_floor_b'

export async function prepareRenameFloor(client: pg.Client) {
  await client.query(`drop schema if exists "${A}" cascade`)
  await client.query(`drop schema if exists "${B}" cascade`)
  await client.query(`create schema "${A}"`)
  await client.query(`create table "${A}".t (id bigint primary key)`)
}

export async function renameFloorSample(client: pg.Client) {
  const started = performance.now()
  await client.query(`alter schema "${A}" rename to "${B}"`)
  const elapsed = performance.now() - started
  await client.query(`alter schema "${B}" rename to "${A}"`)
  return elapsed
}

export async function dropRenameFloor(client: pg.Client) {
  await client.query(`drop schema if exists "${A}" cascade`)
}
