/*
|--------------------------------------------------------------------------
| Secrets
|--------------------------------------------------------------------------
|
| APP_KEY and JWT_SECRET must be at least 32 characters everywhere. With
| NODE_ENV=production they must also be none of the values anyone can read
| in this repository: a deployment that copied one from .env.example, a
| test file or an old docker-compose.yml would sign tokens that anyone can
| forge. Checked at boot by start/env.ts, for the API, the worker and every
| ace command alike (bin/console.ts loads start/env.ts in production even
| for commands that do not start the application).
|
*/

export const SECRET_MIN_LENGTH = 32

/**
 * Every secret value ever written in the repository. The test
 * tests/unit/foundation/published_secrets.spec.ts reads every file of the
 * repository and fails when one holds an APP_KEY or JWT_SECRET value of 32
 * characters or more that is missing here, so the list cannot go stale.
 * Keep removed values too: they stay readable in the history.
 */
export const PUBLISHED_SECRETS: readonly string[] = [
  // .env.example
  'local-dev-app-key-change-me-0123456789',
  'local-dev-jwt-secret-change-me-0123456789abcdef',
  // .env.test
  'test-app-key-0123456789-0123456789-abcdef',
  'test-jwt-secret-0123456789-0123456789-abcdef',
  // docker-compose.yml (until compose generated its own)
  'compose-app-key-change-me-0123456789abcdef',
  'compose-jwt-secret-change-me-0123456789abcdef',
  // bench/lib/env.ts (until the bench generated its own)
  'bench-app-key-0123456789abcdef0123456789',
  'bench-jwt-secret-0123456789abcdef0123456789',
  // tests/unit/foundation/env.spec.ts (until it generated its own)
  'an-app-key-of-at-least-32-characters-long',
  'a-jwt-secret-of-at-least-32-bytes-long!!',
]

export const SECRET_NAMES = ['APP_KEY', 'JWT_SECRET'] as const
export type SecretName = (typeof SECRET_NAMES)[number]

const GENERATE = 'generate one with "node ace generate:key --show" or "openssl rand -base64 48"'

/**
 * Why the value cannot be used for `name`, as one line naming the variable
 * and how to get a good one; null when it can.
 */
export function secretProblem(
  name: SecretName,
  value: string,
  environment: string | undefined
): string | null {
  if (Buffer.byteLength(value) < SECRET_MIN_LENGTH) {
    return `Invalid environment variable "${name}": it must be at least ${SECRET_MIN_LENGTH} characters long; ${GENERATE}`
  }
  if (environment === 'production' && PUBLISHED_SECRETS.includes(value)) {
    return `Invalid environment variable "${name}": it is a value published in the repository and must not be used in production; ${GENERATE}`
  }
  return null
}

/**
 * Stops the process (exit code 1) with one line per unusable secret.
 */
export function assertUsableSecrets(
  values: Record<SecretName, string>,
  environment: string | undefined
): void {
  const problems = SECRET_NAMES.map((name) => secretProblem(name, values[name], environment))
  const lines = problems.filter((problem): problem is string => problem !== null)
  if (lines.length === 0) return
  process.stderr.write(`${lines.join('\n')}\n`)
  process.exit(1)
}
