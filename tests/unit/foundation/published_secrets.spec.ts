import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
import { PUBLISHED_SECRETS, SECRET_MIN_LENGTH } from '#start/secrets'

/**
 * Keeps start/secrets.ts honest: every APP_KEY or JWT_SECRET value written
 * anywhere in the repository (.env files, compose, docs, scripts, tests)
 * that is long enough to pass the length check must be on the list of
 * published values, which production refuses.
 */
const SKIPPED = new Set(['node_modules', '.git', 'build', 'tmp', '.tools', 'coverage', 'results'])

function* repositoryFiles(directory: string): Generator<string> {
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    if (SKIPPED.has(entry.name)) continue
    const path = join(directory, entry.name)
    if (entry.isDirectory()) yield* repositoryFiles(path)
    else if (entry.isFile() && statSync(path).size < 2_000_000) yield path
  }
}

/**
 * Values written next to the variable's name on one line: `NAME=value`,
 * `NAME: value`, and any quoted literal (`NAME: 'value'`, `?? 'value'`).
 */
function secretValues(line: string): string[] {
  if (!/\b(APP_KEY|JWT_SECRET)\b/.test(line)) return []
  const values: string[] = []
  const assigned = /\b(?:APP_KEY|JWT_SECRET)['"]?\s*[:=]\s*(['"]?)([^'"\s,#}]+)\1/g
  for (const match of line.matchAll(assigned)) values.push(match[2])
  for (const match of line.matchAll(/'([^'\s]+)'|"([^"\s]+)"|`([^`\s]+)`/g)) {
    values.push(match[1] ?? match[2] ?? match[3])
  }
  return values.filter((value) => value.length >= SECRET_MIN_LENGTH && !/[$(){}]/.test(value))
}

test.group('Published secrets', () => {
  test('every secret value written in the repository is on the published list', ({ assert }) => {
    const root = app.makePath()
    const unlisted: string[] = []
    let scanned = 0
    for (const file of repositoryFiles(root)) {
      const text = readFileSync(file, 'utf8')
      if (text.includes('\u0000')) continue
      scanned++
      text.split('\n').forEach((line, index) => {
        for (const value of secretValues(line)) {
          if (!PUBLISHED_SECRETS.includes(value)) {
            unlisted.push(`${relative(root, file)}:${index + 1}: ${value}`)
          }
        }
      })
    }
    assert.isAbove(scanned, 100)
    assert.deepEqual(unlisted, [], 'add these to PUBLISHED_SECRETS in start/secrets.ts')
  })

  test('the scan finds the values of .env.example and .env.test', ({ assert }) => {
    for (const file of ['.env.example', '.env.test']) {
      const found = readFileSync(app.makePath(file), 'utf8').split('\n').flatMap(secretValues)
      assert.lengthOf(found, 2, file)
      assert.includeMembers([...PUBLISHED_SECRETS], found)
    }
  })
})
