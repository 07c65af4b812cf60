import type { ApplicationService } from '@adonisjs/core/types'
import type { BenchEnv } from './env.ts'

type Provisioner = typeof import('#tenancy/tenant_provisioner')
type Pool = typeof import('#tenancy/tenant_pool')
type Migrations = typeof import('#tenancy/tenant_migrations')
type Schema = typeof import('#tenancy/schema')
type Jwt = typeof import('#auth/jwt')

/**
 * The application's own code, loaded in the harness process (booted as a
 * console app against the bench database): the provisioner, the compiled
 * tenant-migration SQL and the token signer. Used to seed and to time the
 * in-process parts; the load itself always goes to the built server.
 */
export interface InProcessApp {
  app: ApplicationService
  TenantProvisioner: Provisioner['TenantProvisioner']
  TenantPool: Pool['TenantPool']
  provisionSql: Migrations['provisionSql']
  applySql: Migrations['applySql']
  revertSql: Migrations['revertSql']
  tenantMigrations: Migrations['tenantMigrations']
  tenantSchema: Schema['tenantSchema']
  quoteIdent: Schema['quoteIdent']
  signAccessToken: Jwt['signAccessToken']
  hashPassword: (password: string) => Promise<string>
  terminate: () => Promise<void>
}

export async function bootApp(env: BenchEnv): Promise<InProcessApp> {
  Object.assign(process.env, env.common)
  await import('reflect-metadata')
  const { Ignitor } = await import('@adonisjs/core')
  const APP_ROOT = new URL('../../', import.meta.url)
  const importer = (filePath: string) => {
    if (filePath.startsWith('./') || filePath.startsWith('../')) {
      return import(new URL(filePath, APP_ROOT).href)
    }
    return import(filePath)
  }
  const app = new Ignitor(APP_ROOT, { importer })
    .tap((application) => {
      application.booting(async () => {
        await import('#start/env')
      })
    })
    .createApp('console')
  await app.init()
  await app.boot()
  await app.start(() => {})

  const provisioner: Provisioner = await import('#tenancy/tenant_provisioner')
  const tenantPool: Pool = await import('#tenancy/tenant_pool')
  const migrations: Migrations = await import('#tenancy/tenant_migrations')
  const schema: Schema = await import('#tenancy/schema')
  const jwt: Jwt = await import('#auth/jwt')
  const { default: hash } = await import('@adonisjs/core/services/hash')

  return {
    app,
    TenantProvisioner: provisioner.TenantProvisioner,
    TenantPool: tenantPool.TenantPool,
    provisionSql: migrations.provisionSql,
    applySql: migrations.applySql,
    revertSql: migrations.revertSql,
    tenantMigrations: migrations.tenantMigrations,
    tenantSchema: schema.tenantSchema,
    quoteIdent: schema.quoteIdent,
    signAccessToken: jwt.signAccessToken,
    hashPassword: (password) => hash.make(password),
    terminate: () => app.terminate(),
  }
}
