import { test } from '@japa/runner'
import ace from '@adonisjs/core/services/ace'
import emitter from '@adonisjs/core/services/emitter'
import hash from '@adonisjs/core/services/hash'
import db from '#tests/support/platform_db'
import { tenantMigrations } from '#tenancy/tenant_migrations'
import { tenantSchema } from '#tenancy/schema'
import { givenTenant, givenUser } from '#tests/support/fixtures'
import { AuthService } from '#services/auth_service'
import { runCommand } from '#tests/support/commands'

/**
 * The `tenants:*` commands, run through the ace kernel as an operator
 * would, with their output captured.
 */
const run = runCommand

async function tenantRow(id: number) {
  const { rows } = await db.rawQuery(
    'select status, migration_version from public.tenants where id = ?',
    [id]
  )
  return rows[0] as { status: string; migration_version: string | null } | undefined
}

async function schemaExists(name: string) {
  const { rows } = await db.rawQuery('select 1 from pg_namespace where nspname = ?', [name])
  return rows.length === 1
}

async function latestVersion() {
  const migrations = await tenantMigrations()
  return migrations.at(-1)!.name
}

const UNKNOWN = '987654321'

test.group('tenants:* commands', (group) => {
  group.setup(() => {
    ace.ui.switchMode('raw')
    return () => ace.ui.switchMode('normal')
  })
  group.each.teardown(() => emitter.restore())

  test('tenants:list shows id, slug, status, schema and migration version', async ({ assert }) => {
    const tenant = await givenTenant()
    const result = await run('tenants:list')
    assert.equal(result.exitCode, 0)
    const line = result.output.split('\n').find((row) => row.includes(tenant.slug))
    assert.exists(line)
    for (const value of [String(tenant.id), 'active', tenant.schemaName, await latestVersion()]) {
      assert.include(line, value)
    }
  })

  test('tenants:create provisions tenant, schema and owner with the given password', async ({
    assert,
  }) => {
    const suffix = `${process.pid}${Date.now().toString(36)}`
    const result = await run('tenants:create', [
      `Cli Store ${suffix}`,
      '--owner',
      `cli${suffix}`,
      '--email',
      `cli${suffix}@example.com`,
      '--password',
      'correct horse battery',
    ])
    assert.equal(result.exitCode, 0, result.output)
    assert.notInclude(result.output, 'correct horse battery')

    const { rows } = await db.rawQuery(
      `select t.id, t.migration_version, u.role, u.password from public.tenants t
       join public.users u on u.tenant_id = t.id where t.name = ?`,
      [`Cli Store ${suffix}`]
    )
    assert.lengthOf(rows, 1)
    assert.equal(rows[0].role, 'owner')
    assert.equal(rows[0].migration_version, await latestVersion())
    assert.isTrue(await schemaExists(tenantSchema(rows[0].id)))
    assert.isTrue(await hash.verify(rows[0].password, 'correct horse battery'))
  })

  test('tenants:create without --password generates one and prints it once', async ({ assert }) => {
    const suffix = `${process.pid}${Date.now().toString(36)}g`
    const result = await run('tenants:create', [
      `Generated ${suffix}`,
      '--owner',
      `gen${suffix}`,
      '--email',
      `gen${suffix}@example.com`,
    ])
    assert.equal(result.exitCode, 0, result.output)
    const lines = result.output.split('\n').filter((line) => line.includes('password'))
    assert.lengthOf(lines, 1)
    const password = lines[0].split(': ').at(-1)!
    assert.isAtLeast(password.length, 16)

    const { rows } = await db.rawQuery('select password from public.users where username = ?', [
      `gen${suffix}`,
    ])
    assert.isTrue(await hash.verify(rows[0].password, password))
  })

  test('tenants:create refuses invalid input and taken names with exit code 1', async ({
    assert,
  }) => {
    const tenant = await givenTenant()
    const taken = await run('tenants:create', [
      tenant.name,
      '--owner',
      `other${Date.now()}`,
      '--email',
      `other${Date.now()}@example.com`,
      '--password',
      'password123',
    ])
    assert.equal(taken.exitCode, 1)
    assert.match(taken.errors.join('\n'), /name is already taken/)

    const invalid = await run('tenants:create', [
      'Valid Name',
      '--owner',
      'ok_user',
      '--email',
      'not-an-email',
      '--password',
      'short',
    ])
    assert.equal(invalid.exitCode, 1)
    assert.match(invalid.errors.join('\n'), /email/)
    assert.match(invalid.errors.join('\n'), /password/)
    const { rows } = await db.rawQuery('select 1 from public.tenants where name = ?', [
      'Valid Name',
    ])
    assert.lengthOf(rows, 0)
  })

  test('tenants:create accepts exactly the usernames login accepts', async ({ assert }) => {
    const suffix = Date.now().toString(36)
    for (const refused of [`ops+${suffix}`, `ops@${suffix}`, `o p${suffix}`, 'ab']) {
      const result = await run('tenants:create', [
        `Store ${refused}`,
        '--owner',
        refused,
        '--email',
        `x${suffix}${refused.length}@example.com`,
        '--password',
        'password123',
      ])
      assert.equal(result.exitCode, 1, refused)
      assert.match(result.errors.join('\n'), /username/, refused)
    }

    const accepted = `Ops.Team-${suffix}_1`
    const created = await run('tenants:create', [
      `Store ${accepted}`,
      '--owner',
      accepted,
      '--email',
      `ops-${suffix}@example.com`,
      '--password',
      'password123',
    ])
    assert.equal(created.exitCode, 0, created.output)
    const signedIn = await new AuthService().login({ username: accepted, password: 'password123' })
    assert.equal(signedIn.user.username, accepted)
    assert.equal(signedIn.user.role, 'owner')
  })

  test('tenants:suspend and tenants:resume flip the status and emit events', async ({ assert }) => {
    const tenant = await givenTenant()
    const events = emitter.fake(['tenant:suspended', 'tenant:resumed'])

    const suspended = await run('tenants:suspend', [String(tenant.id)])
    assert.equal(suspended.exitCode, 0)
    assert.equal((await tenantRow(tenant.id))!.status, 'suspended')
    events.assertEmitted(
      'tenant:suspended',
      ({ data }) => data.tenantId === tenant.id && data.schema === tenant.schemaName
    )

    const again = await run('tenants:suspend', [String(tenant.id)])
    assert.equal(again.exitCode, 0)
    assert.include(again.output, 'already suspended')
    events.assertEmittedCount('tenant:suspended', 1)

    const resumed = await run('tenants:resume', [String(tenant.id)])
    assert.equal(resumed.exitCode, 0)
    assert.equal((await tenantRow(tenant.id))!.status, 'active')
    events.assertEmitted('tenant:resumed', ({ data }) => data.tenantId === tenant.id)
  })

  test('an unknown or malformed tenant id is a clear error with exit code 1', async ({
    assert,
  }) => {
    for (const [command, argv] of [
      ['tenants:suspend', [UNKNOWN]],
      ['tenants:resume', [UNKNOWN]],
      ['tenants:drop', [UNKNOWN, '--force']],
      ['tenants:migrate', ['--tenant', UNKNOWN]],
      ['tenants:migrate:rollback', ['--tenant', UNKNOWN]],
    ] as const) {
      const result = await run(command, [...argv])
      assert.equal(result.exitCode, 1, command)
      assert.deepEqual(result.errors, [`Tenant ${UNKNOWN} does not exist`], command)
    }
    for (const id of ['abc', '0', '-3', '1.5']) {
      const result = await run('tenants:suspend', [id])
      assert.equal(result.exitCode, 1, id)
      assert.match(result.errors.join('\n'), /Invalid tenant id/, id)
    }
  })

  test('tenants:drop refuses without --force and leaves everything in place', async ({
    assert,
  }) => {
    const tenant = await givenTenant()
    const events = emitter.fake(['tenant:dropped'])
    const result = await run('tenants:drop', [String(tenant.id)])
    assert.equal(result.exitCode, 1)
    assert.match(result.errors.join('\n'), /--force/)
    assert.exists(await tenantRow(tenant.id))
    assert.isTrue(await schemaExists(tenant.schemaName))
    events.assertNotEmitted('tenant:dropped')
  })

  test('tenants:drop --force removes the schema, the tenant, its users and sessions', async ({
    assert,
  }) => {
    const tenant = await givenTenant()
    const staff = await givenUser(tenant, 'staff')
    const other = await givenTenant()
    const events = emitter.fake(['tenant:dropped'])

    const result = await run('tenants:drop', [String(tenant.id), '--force'])
    assert.equal(result.exitCode, 0, result.output)
    assert.notExists(await tenantRow(tenant.id))
    assert.isFalse(await schemaExists(tenant.schemaName))
    const { rows: users } = await db.rawQuery(
      'select id from public.users where id = any(?) or tenant_id = ?',
      [[tenant.owner.id, staff.id], tenant.id]
    )
    assert.lengthOf(users, 0)
    const { rows: sessions } = await db.rawQuery(
      'select id from public.auth_sessions where id = any(?)',
      [[tenant.owner.sessionId, staff.sessionId]]
    )
    assert.lengthOf(sessions, 0)
    events.assertEmitted(
      'tenant:dropped',
      ({ data }) => data.tenantId === tenant.id && data.schema === tenant.schemaName
    )

    // Nothing of the other tenant is touched.
    assert.exists(await tenantRow(other.id))
    assert.isTrue(await schemaExists(other.schemaName))
  })

  test('tenants:migrate, its status, dry run and rollback from the command line', async ({
    assert,
  }) => {
    const latest = await latestVersion()
    const tenant = await givenTenant()
    const schema = tenant.schemaName

    const noop = await run('tenants:migrate')
    assert.equal(noop.exitCode, 0, noop.output)
    assert.include(noop.output, 'Nothing to migrate')

    const migrations = await tenantMigrations()
    const rolledBack = await run('tenants:migrate:rollback', [
      '--tenant',
      String(tenant.id),
      '--step',
      String(migrations.length),
    ])
    assert.equal(rolledBack.exitCode, 0, rolledBack.output)
    assert.isNull((await tenantRow(tenant.id))!.migration_version)

    const status = await run('tenants:migrate:status')
    assert.equal(status.exitCode, 0)
    assert.include(status.output, `tenant ${tenant.id} (${schema}): (none)`)
    assert.match(status.output, /tenant\(s\) are behind/)

    const dry = await run('tenants:migrate', ['--dry-run', '--tenant', String(tenant.id)])
    assert.equal(dry.exitCode, 0)
    assert.include(dry.output, `tenant ${tenant.id} (${schema}): (none) -> ${latest}`)
    assert.include(dry.output, `'"${schema}", public'`)
    assert.include(dry.output, 'create table products')
    assert.isNull((await tenantRow(tenant.id))!.migration_version)

    // A conflicting table makes this tenant fail; the run reports it and exits 1.
    await db.rawQuery(`create table "${schema}".products (id bigint)`)
    const failed = await run('tenants:migrate')
    assert.equal(failed.exitCode, 1)
    assert.include(
      failed.errors.join('\n'),
      `tenant ${tenant.id} (${schema}): relation "products" already exists [42P07]`
    )
    assert.isNull((await tenantRow(tenant.id))!.migration_version)

    await db.rawQuery(`drop table "${schema}".products`)
    const fixed = await run('tenants:migrate', ['--concurrency', '2'])
    assert.equal(fixed.exitCode, 0, fixed.output)
    assert.include(fixed.output, '1/1 tenants migrated')
    assert.include(fixed.output, `Migrated 1 tenant(s) to ${latest}`)
    assert.equal((await tenantRow(tenant.id))!.migration_version, latest)

    const after = await run('tenants:migrate:status')
    assert.include(after.output, 'are at the latest version')
  })

  test('tenants:migrate secures the schemas the runtime role cannot use yet; --secure-all every one', async ({
    assert,
  }) => {
    const tenant = await givenTenant()
    const schema = tenant.schemaName
    const { rows: runtime } = await db.rawQuery('select role_name from tenancy.runtime')
    const role = runtime[0].role_name as string
    const state = async () => {
      const { rows } = await db.rawQuery(
        `select has_schema_privilege(?, ?, 'usage') as usage,
                has_table_privilege(?, ?, 'select') as selects,
                exists (select from pg_policy where polrelid = ?::regclass
                        and polname = 'tenant_guard') as guarded`,
        [role, schema, role, `"${schema}".products`, `"${schema}".products`]
      )
      return rows[0] as { usage: boolean; selects: boolean; guarded: boolean }
    }

    // As if provisioned before the runtime role existed.
    await db.rawQuery(`revoke usage on schema "${schema}" from "${role}"`)
    await db.rawQuery(`revoke all on "${schema}".products from "${role}"`)
    await db.rawQuery(`drop policy tenant_guard on "${schema}".products`)
    const secured = await run('tenants:migrate')
    assert.equal(secured.exitCode, 0, secured.output)
    assert.deepEqual(await state(), { usage: true, selects: true, guarded: true })

    // A schema the role can use is taken as secured (its provisioning and
    // its migrations secured it in their transaction): --secure-all
    // re-checks every one.
    await db.rawQuery(`revoke select on "${schema}".products from "${role}"`)
    const quick = await run('tenants:migrate')
    assert.equal(quick.exitCode, 0, quick.output)
    const unchecked = await state()
    assert.isFalse(unchecked.selects)
    const all = await run('tenants:migrate', ['--secure-all'])
    assert.equal(all.exitCode, 0, all.output)
    assert.deepEqual(await state(), { usage: true, selects: true, guarded: true })
  })

  test('tenants:placement on plain PostgreSQL lists every tenant on this server, with sizes', async ({
    assert,
  }) => {
    const tenant = await givenTenant()
    const result = await run('tenants:placement', ['--json'])
    assert.equal(result.exitCode, 0, result.output)
    const report = JSON.parse(result.output.split('\n').find((line) => line.startsWith('{'))!)
    assert.isNull(report.citus)
    const placement = report.placements.find(
      (row: { tenantId: number }) => row.tenantId === tenant.id
    )
    const { rows: tables } = await db.rawQuery(
      `select count(*)::int as n from pg_tables where schemaname = ?`,
      [tenant.schemaName]
    )
    assert.deepInclude(placement, {
      tenantId: tenant.id,
      schema: tenant.schemaName,
      node: null,
      distributed: false,
      tables: tables[0].n,
    })
    assert.isAbove(placement.bytes, 0)

    const table = await run('tenants:placement')
    assert.equal(table.exitCode, 0)
    assert.include(table.output, 'Plain PostgreSQL (no Citus)')
    assert.include(table.output, tenant.schemaName)
  })

  test('tenants:move is refused on plain PostgreSQL with exit code 1, and checks its arguments', async ({
    assert,
  }) => {
    const tenant = await givenTenant()
    const refused = await run('tenants:move', [String(tenant.id), '10.0.0.12:5432'])
    assert.equal(refused.exitCode, 1)
    assert.match(refused.errors.join('\n'), /needs Citus: the citus extension is not installed/)

    const badNode = await run('tenants:move', [String(tenant.id), 'worker-without-port'])
    assert.equal(badNode.exitCode, 1)
    assert.match(
      badNode.errors.join('\n'),
      /Invalid node "worker-without-port": expected host:port/
    )

    const badMode = await run('tenants:move', [String(tenant.id), '10.0.0.12:5432', '--mode=fast'])
    assert.equal(badMode.exitCode, 1)
    assert.match(badMode.errors.join('\n'), /Invalid mode "fast"/)

    const badId = await run('tenants:move', ['abc', '10.0.0.12:5432'])
    assert.equal(badId.exitCode, 1)
    // Nothing moved: the schema is where it was.
    assert.isTrue(await schemaExists(tenant.schemaName))
  })
})
