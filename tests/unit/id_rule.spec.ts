import { test } from '@japa/runner'
import vine from '@vinejs/vine'
import { MAX_ID, id } from '#validators/rules'

const validator = vine.create({ id: id() })

test.group('Rules / id', () => {
  test('accepts {0} as {1}')
    .with([
      [7, 7],
      ['7', 7],
      [' 42 ', 42],
      [MAX_ID, MAX_ID],
    ] as const)
    .run(async ({ assert }, [input, output]) => {
      assert.deepEqual(await validator.validate({ id: input }), { id: output })
    })

  test('refuses {0}')
    .with([true, [5], '0x10', '5e0', '', '1.5', 1.5, 0, -3, '-3', MAX_ID + 1, 'abc', {}])
    .run(async ({ assert }, input) => {
      await assert.rejects(() => validator.validate({ id: input }))
    })
})
