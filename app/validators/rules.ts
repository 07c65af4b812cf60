import vine from '@vinejs/vine'

/**
 * Shared field rules. Ids arrive as integers or numeric strings ("7"), and
 * are validated into numbers within the range of a safe BIGINT.
 */
export const MAX_ID = Number.MAX_SAFE_INTEGER

export const id = () => vine.number().withoutDecimals().min(1).max(MAX_ID)

/**
 * Money arrives as a JSON number or a decimal string: at least 0, at most
 * 2 decimals and 10 integer digits. It leaves validation as a normalised
 * decimal string ("1200.00"), never as a float.
 */
const MONEY = /^(\d{1,10})(?:\.(\d{1,2}))?$/

const moneyRule = vine.createRule((value, _options, field) => {
  const text =
    typeof value === 'number' && Number.isFinite(value)
      ? String(value)
      : typeof value === 'string'
        ? value.trim()
        : ''
  const match = MONEY.exec(text)
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
