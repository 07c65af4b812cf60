/**
 * Read floor: the least a server must do to answer
 * `GET /api/products/?per_page=20` correctly, with no framework.
 *
 * - verify the HS256 access token (jose, as the application) and take the
 *   tenant from its claim;
 * - round trip 1, one simple-protocol query:
 *   `BEGIN; select set_config('search_path', '"tenant_<id>", public', true), …`
 *   where the same select confirms the tenant is active and the user and
 *   the login session are valid (the contract refuses revoked sessions and
 *   deactivated users at once, so some query must check them);
 * - round trip 2: the page, with the total carried by a scalar subquery
 *   (`(select count(*) from products …)`, evaluated once);
 * - round trip 3: `COMMIT`;
 * - shape the rows (money as "12.00", ISO timestamps) and send JSON.
 *
 * Started by the harness as a child process with PORT, DB_*, JWT_* and
 * DB_POOL_MAX in its environment.
 */
import http from 'node:http'
import pg from 'pg'
import { jwtVerify } from 'jose'

pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10))

const env = process.env
const key = new TextEncoder().encode(env.JWT_SECRET)
const pool = new pg.Pool({
  host: env.DB_HOST,
  port: Number(env.DB_PORT),
  user: env.DB_USER,
  password: env.DB_PASSWORD || undefined,
  database: env.DB_DATABASE,
  max: Number(env.DB_POOL_MAX ?? 10),
})

const UUID = /^[0-9a-f-]{36}$/
const ID = /^[1-9][0-9]{0,15}$/

interface Principal {
  userId: number
  tenantId: number
  sessionId: string
}

async function authenticate(header: string | undefined): Promise<Principal | null> {
  if (!header?.startsWith('Bearer ')) return null
  try {
    const { payload } = await jwtVerify(header.slice(7), key, {
      algorithms: ['HS256'],
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
    })
    const tenantId = payload.tenant_id
    const sid = payload.sid
    if (
      payload.token_type !== 'access' ||
      typeof payload.sub !== 'string' ||
      !ID.test(payload.sub) ||
      typeof tenantId !== 'number' ||
      !Number.isSafeInteger(tenantId) ||
      tenantId < 1 ||
      typeof sid !== 'string' ||
      !UUID.test(sid)
    ) {
      return null
    }
    return { userId: Number(payload.sub), tenantId, sessionId: sid }
  } catch {
    return null
  }
}

const PAGE_SQL = `select id, name, sku, price, stock, description, is_active, assigned_to,
         created_at, updated_at, (select count(*) from products %WHERE%) as total
  from products %WHERE% order by id limit $1 offset $2`

function send(res: http.ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  })
  res.end(text)
}

const error = (message: string, code: string) => ({ errors: [{ message, code }] })

async function listProducts(principal: Principal, page: number, perPage: number) {
  const client = await pool.connect()
  try {
    // Every value below is a validated integer or UUID.
    const entered = (await client.query(
      `begin; select set_config('search_path', '"tenant_${principal.tenantId}", public', true),
         t.status, u.role, u.is_active, (s.id is null or s.revoked_at is not null) as revoked
       from public.tenants t
       left join public.users u on u.id = ${principal.userId} and u.tenant_id = t.id
       left join public.auth_sessions s on s.id = '${principal.sessionId}' and s.user_id = u.id
       where t.id = ${principal.tenantId}`
    )) as unknown as pg.QueryResult[]
    const entry = entered[1].rows[0]
    if (!entry || !entry.role || !entry.is_active || entry.revoked) {
      await client.query('rollback')
      return { status: 401, body: error('Invalid or expired access token', 'E_UNAUTHORIZED') }
    }
    if (entry.status !== 'active') {
      await client.query('rollback')
      return { status: 403, body: error('This store is suspended', 'E_TENANT_SUSPENDED') }
    }
    const where = entry.role === 'customer' ? 'where is_active' : ''
    const { rows } = await client.query(PAGE_SQL.replaceAll('%WHERE%', where), [
      perPage,
      (page - 1) * perPage,
    ])
    await client.query('commit')
    const total = rows[0]?.total ?? 0
    return {
      status: 200,
      body: {
        data: rows.map((row) => ({
          id: row.id,
          name: row.name,
          sku: row.sku,
          price: row.price,
          stock: row.stock,
          description: row.description,
          is_active: row.is_active,
          assigned_to: row.assigned_to,
          created_at: row.created_at.toISOString(),
          updated_at: row.updated_at.toISOString(),
        })),
        meta: {
          total,
          per_page: perPage,
          current_page: page,
          last_page: Math.max(1, Math.ceil(total / perPage)),
        },
      },
    }
  } catch (failure) {
    await client.query('rollback').catch(() => {})
    throw failure
  } finally {
    client.release()
  }
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname === '/health/live') return send(res, 200, { ok: true })
    if (req.method !== 'GET' || url.pathname.replace(/\/$/, '') !== '/api/products') {
      return send(res, 404, error('Not found', 'E_ROUTE_NOT_FOUND'))
    }
    const principal = await authenticate(req.headers.authorization)
    if (!principal)
      return send(res, 401, error('Invalid or expired access token', 'E_UNAUTHORIZED'))
    const page = Math.max(1, Number.parseInt(url.searchParams.get('page') ?? '1', 10) || 1)
    const perPage = Math.min(
      100,
      Math.max(1, Number.parseInt(url.searchParams.get('per_page') ?? '20', 10) || 20)
    )
    const { status, body } = await listProducts(principal, page, perPage)
    send(res, status, body)
  } catch {
    send(res, 500, error('Internal error', 'E_INTERNAL'))
  }
})

server.listen(Number(env.PORT), '127.0.0.1')

process.on('SIGTERM', () => {
  server.close()
  server.closeAllConnections()
  pool.end().finally(() => process.exit(0))
})
