import { test } from '@japa/runner'
import {
  promValue,
  slopePerMinute,
  soakSummary,
  type MemorySample,
} from '../../../bench/lib/memory.ts'
import { productionNodeFlags, rssMiB } from '../../../bench/lib/processes.ts'

/**
 * The memory scenario's own logic: the slope of a soak, its summary, the
 * values read from a Prometheus text, the RSS of a process, and the node
 * flags the harness takes from package.json. (No timing is asserted here.)
 */
const sample = (at: number, rss: number | null): MemorySample => ({
  at,
  rssMiB: rss,
  heapUsedMiB: null,
  heapTotalMiB: null,
  externalMiB: null,
})

test.group('Bench memory scenario', () => {
  test('the slope is the least-squares growth per minute', ({ assert }) => {
    // 2 MB every 30 s = 4 MB/min, with noise that averages out
    const points = [0, 30, 60, 90, 120].map((at, index) => ({
      at,
      value: 200 + index * 2 + (index % 2 ? 0.5 : -0.5),
    }))
    assert.closeTo(slopePerMinute(points)!, 4, 0.5)
    assert.closeTo(slopePerMinute([0, 60, 120].map((at) => ({ at, value: 180 })))!, 0, 1e-9)
    assert.closeTo(
      slopePerMinute([
        { at: 0, value: 300 },
        { at: 120, value: 280 },
      ])!,
      -10,
      1e-9
    )
    assert.isNull(slopePerMinute([{ at: 0, value: 1 }]))
    assert.isNull(
      slopePerMinute([
        { at: 5, value: 1 },
        { at: 5, value: 2 },
      ])
    )
    // unknown samples (a scrape that failed) are left out
    assert.closeTo(
      slopePerMinute([
        { at: 0, value: 100 },
        { at: 30, value: null },
        { at: 60, value: 110 },
      ])!,
      10,
      1e-9
    )
  })

  test('a soak summary: warm-up and end values, highest sample, slope after the warm-up', ({
    assert,
  }) => {
    // grows to 240 in the first 40 s of a 60 s warm-up, then flat at 240 with one spike
    const samples = Array.from({ length: 25 }, (_, index) => {
      const at = index * 10
      return sample(at, at <= 40 ? 150 + at * 2.25 : at === 150 ? 260 : 240)
    })
    const summary = soakSummary(samples, (s) => s.rssMiB, 60)
    assert.equal(summary.warmup, 240)
    assert.equal(summary.end, 240)
    assert.equal(summary.max, 260)
    assert.isBelow(Math.abs(summary.slope!), 1)

    const leaking = samples.map((s) => sample(s.at, 150 + s.at * 0.1))
    assert.closeTo(soakSummary(leaking, (s) => s.rssMiB, 60).slope!, 6, 1e-9)
  })

  test('unlabelled values are read from a Prometheus text', ({ assert }) => {
    const text = [
      '# HELP nodejs_heap_size_used_bytes Process heap size used from Node.js in bytes.',
      '# TYPE nodejs_heap_size_used_bytes gauge',
      'nodejs_heap_size_used_bytes 52428800',
      'nodejs_heap_size_used_bytes_other 1',
      'process_resident_memory_bytes 2.5e+8',
      'nodejs_heap_space_size_used_bytes{space="old"} 1000',
    ].join('\n')
    assert.equal(promValue(text, 'nodejs_heap_size_used_bytes'), 52_428_800)
    assert.equal(promValue(text, 'process_resident_memory_bytes'), 250_000_000)
    assert.isNull(promValue(text, 'nodejs_heap_space_size_used_bytes'))
    assert.isNull(promValue(text, 'nodejs_external_memory_bytes'))
  })

  test('the RSS of a live process, none of a gone one', async ({ assert }) => {
    const own = await rssMiB(process.pid)
    assert.isNotNull(own)
    assert.isAbove(own!, 10)
    assert.isNull(await rssMiB(undefined))
    assert.isNull(await rssMiB(2 ** 22 + 12_345))
  })

  test('the API and the worker start with the node flags of package.json', ({ assert }) => {
    const manifest = (start: string) => ({ scripts: { start } })
    assert.deepEqual(
      productionNodeFlags(
        'start',
        ['build/bin/server.js'],
        manifest('node --max-semi-space-size=16 build/bin/server.js')
      ),
      ['--max-semi-space-size=16']
    )
    assert.deepEqual(
      productionNodeFlags('start', ['build/bin/server.js'], manifest('node build/bin/server.js')),
      []
    )
    assert.throws(
      () => productionNodeFlags('start', ['build/bin/server.js'], manifest('node other.js')),
      /is not "node/
    )
    assert.throws(
      () =>
        productionNodeFlags(
          'start',
          ['build/bin/server.js'],
          manifest('FOO=1 node build/bin/server.js')
        ),
      /is not "node/
    )
    // the project's own scripts have that shape, and size V8's young and old generations
    // for the process (docs/design/production_defaults.md, "Memory")
    const worker = productionNodeFlags('worker', ['build/ace.js', 'queue:work'])
    const api = productionNodeFlags('start', ['build/bin/server.js'])
    assert.deepEqual(worker, api)
    for (const flag of ['--max-semi-space-size=', '--max-old-space-size=']) {
      assert.isTrue(
        api.some((given) => given.startsWith(flag)),
        `npm start runs node without ${flag}…`
      )
    }
  })
})
