import { test } from '@japa/runner'
import vine, { errors } from '@vinejs/vine'
import { money } from '#validators/rules'

const validator = vine.create({ price: money() })

async function priceOf(value: unknown) {
  const { price } = await validator.validate({ price: value })
  return price
}

test.group('money()', () => {
  const valid: [unknown, string][] = [
    [0, '0.00'],
    ['0', '0.00'],
    [12, '12.00'],
    [12.5, '12.50'],
    [12.34, '12.34'],
    ['12.3', '12.30'],
    ['  7.05 ', '7.05'],
    ['007.5', '7.50'],
    ['000', '0.00'],
    [1200, '1200.00'],
    ['9999999999.99', '9999999999.99'],
    [9999999999.99, '9999999999.99'],
  ]
  for (const [input, expected] of valid) {
    test('accepts {input} as {expected}')
      .with([{ input, expected }])
      .run(async ({ assert }, row) => {
        assert.strictEqual(await priceOf(row.input), row.expected)
      })
  }

  const invalid: unknown[] = [
    -1,
    '-0.01',
    '1.234',
    0.125,
    0.1 + 0.2,
    '12345678901',
    12345678901,
    '1e3',
    1e21,
    '.5',
    '5.',
    '1,50',
    '$5',
    '',
    ' ',
    'abc',
    'NaN',
    Number.NaN,
    Number.POSITIVE_INFINITY,
    true,
    [],
    [5],
    { amount: 5 },
  ]
  for (const input of invalid) {
    test('refuses {input}')
      .with([{ input }])
      .run(async ({ assert }, row) => {
        try {
          await priceOf(row.input)
          assert.fail(`accepted ${String(row.input)}`)
        } catch (error) {
          assert.instanceOf(error, errors.E_VALIDATION_ERROR)
          assert.equal((error as any).messages[0].field, 'price')
          assert.equal((error as any).messages[0].rule, 'money')
        }
      })
  }

  test('is required unless made optional', async ({ assert }) => {
    await assert.rejects(() => validator.validate({}))
    await assert.rejects(() => validator.validate({ price: null }))
    const optional = vine.create({ price: money().optional() })
    assert.deepEqual(await optional.validate({}), {})
  })
})
