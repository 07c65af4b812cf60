import vine from '@vinejs/vine'

/**
 * Shared field rules.
 */
export const MAX_ID = Number.MAX_SAFE_INTEGER

/**
 * A whole number from a JSON number or a string of digits ("7"). Vine's
 * own number() goes through Number(), which also turns true, [5], "" and
 * "0x10" into numbers; ids and counts should not be that lenient.
 */
const wholeNumberRule = vine.createRule<{ min: number; max: number }>(
  (value, { min, max }, field) => {
    const parsed =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && /^\s*-?\d{1,16}\s*$/.test(value)
          ? Number(value)
          : Number.NaN
    if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
      field.report(
        `The {{ field }} field must be a whole number between ${min} and ${max}`,
        'wholeNumber',
        field
      )
      return
    }
    field.mutate(parsed, field)
  }
)

export const wholeNumber = (min: number, max: number) =>
  vine.any().use(wholeNumberRule({ min, max })) as unknown as ReturnType<typeof vine.number>

/**
 * Ids arrive as integers or numeric strings, within the range of a safe
 * BIGINT.
 */
export const id = () => wholeNumber(1, MAX_ID)

/**
 * PostgreSQL text cannot hold U+0000: refuse it with a 422 instead of
 * letting the database fail.
 */
const noNullCharacter = vine.createRule((value, _options, field) => {
  if (typeof value === 'string' && value.includes('\u0000')) {
    field.report(
      'The {{ field }} field must not contain a null character',
      'noNullCharacter',
      field
    )
  }
})

/**
 * Free text stored in PostgreSQL.
 */
export const text = () => vine.string().use(noNullCharacter())

/**
 * Money arrives as a JSON number or a decimal string: at least 0, at most
 * 2 decimals and 10 integer digits. It leaves validation as a normalised
 * decimal string ("1200.00"), never as a float.
 */
const MONEY = /^(\d{1,10})(?:\.(\d{1,2}))?$/

const moneyRule = vine.createRule((value, _options, field) => {
  const amount =
    typeof value === 'number' && Number.isFinite(value)
      ? String(value)
      : typeof value === 'string'
        ? value.trim()
        : ''
  const match = MONEY.exec(amount)
  if (!match) {
    field.report(
      'The {{ field }} field must be an amount of at least 0 with at most 2 decimals and 10 integer digits',
      'money',
      field
    )
    return
  }
  const integer = match[1].replace(/^0+(?=\d)/, '')
  field.mutate(`${integer}.${(match[2] ?? '').padEnd(2, '0')}`, field)
})

export const money = () => vine.any().use(moneyRule()) as unknown as ReturnType<typeof vine.string>

/**
 * `?page=` and `?per_page=` (at most 100), shared by every list.
 */
export const pagination = {
  page: vine.number().withoutDecimals().min(1).max(1_000_000).optional(),
  per_page: vine.number().withoutDecimals().min(1).max(100).optional(),
}
