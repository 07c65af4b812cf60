import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from '@japa/runner'
import { percentile } from '../../../bench/lib/stats.ts'
import { compared, writeBenchmarksMd, type Row, type RunRecord } from '../../../bench/lib/report.ts'
import { readDotEnv, benchEnv, dotEnvFile } from '../../../bench/lib/env.ts'
import {
  connectionOptions,
  dropDatabase,
  recreateDatabase,
  withClient,
} from '../../../bench/lib/database.ts'

/**
 * The benchmark harness's own logic: statistics, verdicts against floors,
 * the BENCHMARKS.md merge, and the guards that keep a run inside its own
 * database, Redis DB and loopback. (No timing is asserted here.)
 */
async function exists(database: string) {
  return withClient(connectionOptions(benchEnv(), 'postgres'), async (client) => {
    const { rows } = await client.query('select 1 from pg_database where datname = $1', [database])
    return rows.length > 0
  })
}

test.group('Bench harness', () => {
  test('percentiles use the nearest rank', ({ assert }) => {
    const values = Array.from({ length: 100 }, (_, index) => 100 - index)
    assert.equal(percentile(values, 50), 50)
    assert.equal(percentile(values, 99), 99)
    assert.equal(percentile(values, 100), 100)
    assert.equal(percentile([7], 99), 7)
    assert.isNull(percentile([], 50))
  })

  test('a figure is judged by its ratio to the floor or by an absolute limit', ({ assert }) => {
    const base = { scenario: 'read', metric: 'req/s', unit: 'req/s' }
    const fast = compared({ ...base, value: 700, floor: 1000 }, { atLeast: 0.6 })
    assert.closeTo(fast.ratio!, 0.7, 1e-9)
    assert.isTrue(fast.met)
    assert.isFalse(compared({ ...base, value: 500, floor: 1000 }, { atLeast: 0.6 }).met)
    assert.isFalse(compared({ ...base, value: 25, floor: 10 }, { atMost: 2 }).met)
    assert.isTrue(compared({ ...base, value: 240 }, { absoluteMax: 250 }).met)
    assert.isFalse(compared({ ...base, value: 260 }, { absoluteMax: 250 }).met)
    assert.isNull(compared({ ...base, value: 1, floor: null }, { atLeast: 0.6 }).met)
    assert.isNull(compared({ ...base, value: null, floor: 10 }, { atLeast: 0.6 }).met)
  })

  test('a run of some scenarios keeps the other rows of BENCHMARKS.md', ({ assert }) => {
    const file = join(mkdtempSync(join(tmpdir(), 'bench-md-')), 'BENCHMARKS.md')
    const row = (scenario: string, value: number): Row => ({
      scenario,
      metric: 'req/s',
      value,
      unit: 'req/s',
      status: 'measured',
    })
    const record = (date: string, scenarios: string[], rows: Row[]): RunRecord => ({
      date,
      quick: false,
      scenarios,
      machine: { cores: 2, cpu: 'test', memoryGiB: 1, node: 'v24' },
      rows,
      floors: [],
      seconds: 1,
    })
    const order = ['read', 'migrate']
    writeBenchmarksMd(
      record('2026-01-01T00:00:00.000Z', order, [row('read', 111), row('migrate', 222)]),
      order,
      file
    )
    writeBenchmarksMd(record('2026-02-01T00:00:00.000Z', ['read'], [row('read', 333)]), order, file)
    const text = readFileSync(file, 'utf8')
    assert.include(text, '| read | req/s | 333 req/s |')
    assert.include(text, '| migrate | req/s | 222 req/s |')
    assert.notInclude(text, '111 req/s')
    assert.include(text, '2026-01-01, 2026-02-01')
  })

  test('dotenv lines are read with comments and quotes handled', ({ assert }) => {
    const file = join(mkdtempSync(join(tmpdir(), 'bench-env-')), '.env')
    writeFileSync(file, '# comment\nA=1\nB="two words"\n\nC=\n')
    assert.deepEqual(readDotEnv(file), { A: '1', B: 'two words', C: '' })
  })

  test('only bench databases may be recreated or dropped', async ({ assert }) => {
    const env = benchEnv()
    // Names that exist nowhere: even a broken guard could not harm a database.
    await assert.rejects(() => recreateDatabase(env, 'guard_probe_1x'), /not a bench database/)
    await assert.rejects(() => recreateDatabase(env, 'guard_probe_1x_test'), /not a bench database/)
    await dropDatabase(env, 'guard_probe_1x')
    assert.isFalse(await exists('guard_probe_1x'))
  })

  test('the run refuses services outside loopback', ({ assert, cleanup }) => {
    const previous = process.env.DB_HOST
    cleanup(() => {
      if (previous === undefined) delete process.env.DB_HOST
      else process.env.DB_HOST = previous
    })
    process.env.DB_HOST = '10.1.2.3'
    assert.throws(() => benchEnv(), /loopback/)
  })
})

test.group('Bench settings without a .env', () => {
  test('the harness reads .env, or .env.example on a fresh clone', ({ assert }) => {
    const root = mkdtempSync(join(tmpdir(), 'bench-root-'))
    writeFileSync(join(root, '.env.example'), 'DB_HOST=127.0.0.1\n')
    assert.equal(dotEnvFile(root), join(root, '.env.example'))
    writeFileSync(join(root, '.env'), 'DB_HOST=127.0.0.1\n')
    assert.equal(dotEnvFile(root), join(root, '.env'))
  })
})
