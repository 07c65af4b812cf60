import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { once } from 'node:events'
import { pipeline } from 'node:stream/promises'
import { PassThrough } from 'node:stream'
import { createGzip } from 'node:zlib'
import { platformDb } from '#tenancy/platform'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import { TenantNotFoundException } from '#exceptions/tenancy'
import { quoteIdent, tenantSchema } from '#tenancy/schema'
import {
  ARCHIVE_FORMAT,
  ARCHIVE_VERSION,
  schemaTables,
  TENANT_COLUMNS,
  USER_COLUMNS,
  type ArchiveColumn,
  type ArchiveHeader,
  type SectionKind,
} from '#tenancy/tenant_archive'
import { tenantMigrations } from '#tenancy/tenant_migrations'

export interface ArchiveProgress {
  done: number
  total: number
}

export interface ExportResult {
  file: string
  header: ArchiveHeader
  rows: number
  bytes: number
}

const FETCH_ROWS = 2000

interface Section {
  name: string
  kind: SectionKind
  columns: ArchiveColumn[]
  /** a select of the section's columns, each cast to text */
  select: string
}

/**
 * Writes one tenant to an archive (see tenant_archive.ts and
 * docs/design/tenant_archive.md): its tenant row, its users (password
 * hashes included; login sessions and refresh tokens not) and every row of
 * every table of its schema, the tables read from the catalog.
 *
 * Everything is read in one REPEATABLE READ, READ ONLY transaction (one
 * snapshot: counts, rows and version agree), through a cursor fetched in
 * batches of 2,000 rows and written through gzip with backpressure, so
 * memory stays flat whatever the tenant's size. The file is written beside
 * the target and renamed into place at the end: a failed export leaves no
 * partial archive.
 */
export class TenantExporter {
  async export(
    tenantId: number,
    file: string,
    options: { onProgress?: (progress: ArchiveProgress) => void } = {}
  ): Promise<ExportResult> {
    const partial = `${file}.partial-${process.pid}`
    try {
      const result = await platformDb().transaction((trx) =>
        this.write(trx, tenantId, partial, file, options.onProgress)
      )
      await rename(partial, file)
      return result
    } catch (error) {
      await rm(partial, { force: true })
      throw error
    }
  }

  private async write(
    trx: TransactionClientContract,
    tenantId: number,
    partial: string,
    file: string,
    onProgress?: (progress: ArchiveProgress) => void
  ): Promise<ExportResult> {
    await trx.rawQuery('set transaction isolation level repeatable read, read only')
    await trx.rawQuery("select set_config('TimeZone', 'UTC', true)")
    const { rows: tenants } = await trx.rawQuery(
      'select id, migration_version from public.tenants where id = ?',
      [tenantId]
    )
    if (!tenants[0]) throw new TenantNotFoundException(tenantId)
    const schema = tenantSchema(tenantId)
    const version: string | null = tenants[0].migration_version
    const migrations = await tenantMigrations()
    const known = migrations.map((migration) => migration.name)
    const position = version === null ? -1 : known.indexOf(version)
    if (version !== null && position === -1) {
      throw new Error(
        `Tenant ${tenantId} is at migration "${version}", which this application does not know`
      )
    }

    const sections: Section[] = [
      {
        name: 'tenant',
        kind: 'tenant',
        columns: TENANT_COLUMNS,
        select: `select ${textColumns(TENANT_COLUMNS)} from public.tenants where id = ${tenantId}`,
      },
      {
        name: 'users',
        kind: 'users',
        columns: USER_COLUMNS,
        select: `select ${textColumns(USER_COLUMNS)} from public.users where tenant_id = ${tenantId} order by id`,
      },
    ]
    for (const table of await schemaTables(trx, schema)) {
      const columns = table.columns.map(({ name, type }) => ({ name, type }))
      sections.push({
        name: table.name,
        kind: 'table',
        columns,
        select: `select ${textColumns(columns)} from ${quoteIdent(schema)}.${quoteIdent(table.name)}`,
      })
    }

    const counts: number[] = []
    for (const section of sections) {
      const { rows } = await trx.rawQuery(`select count(*)::bigint as n from (${section.select}) s`)
      counts.push(Number(rows[0].n))
    }
    const total = counts.reduce((sum, n) => sum + n, 0)
    const header: ArchiveHeader = {
      format: ARCHIVE_FORMAT,
      version: ARCHIVE_VERSION,
      exported_at: new Date().toISOString(),
      source: { tenant_id: tenantId, schema },
      tenant_migration: version,
      migrations: known.slice(0, position + 1),
      sections: sections.map((section, index) => ({
        name: section.name,
        kind: section.kind,
        rows: counts[index],
      })),
    }

    const lines = new PassThrough({ writableHighWaterMark: 1 << 20 })
    const output = createWriteStream(partial, { flags: 'wx' })
    const written = pipeline(lines, createGzip({ level: 6 }), output)
    written.catch(() => {})
    const whole = createHash('sha256')
    const emit = async (text: string) => {
      whole.update(text)
      if (!lines.write(text)) await once(lines, 'drain')
    }

    await emit(`${JSON.stringify(header)}\n`)
    const connection = await rawConnection(trx)
    let done = 0
    for (const section of sections) {
      const sectionHash = createHash('sha256')
      const start = `${JSON.stringify({ section: section.name, kind: section.kind, columns: section.columns })}\n`
      sectionHash.update(start)
      await emit(start)
      let rows = 0
      await connection.query(`declare archive_rows no scroll cursor for ${section.select}`)
      for (;;) {
        const batch = await connection.query({
          text: `fetch ${FETCH_ROWS} from archive_rows`,
          rowMode: 'array',
        })
        if (batch.rows.length === 0) break
        let text = ''
        for (const row of batch.rows) text += `${JSON.stringify(row)}\n`
        sectionHash.update(text)
        await emit(text)
        rows += batch.rows.length
        done += batch.rows.length
        onProgress?.({ done, total })
      }
      await connection.query('close archive_rows')
      await emit(
        `${JSON.stringify({ end: section.name, rows, sha256: sectionHash.digest('hex') })}\n`
      )
    }
    const last = `${JSON.stringify({ end: 'archive', sha256: whole.digest('hex') })}\n`
    lines.end(last)
    await written
    onProgress?.({ done: total, total })
    return { file, header, rows: total, bytes: output.bytesWritten }
  }
}

function textColumns(columns: ArchiveColumn[]) {
  return columns.map((column) => `${quoteIdent(column.name)}::text`).join(', ')
}

interface RawConnection {
  query(
    query: string | { text: string; rowMode?: 'array'; values?: unknown[] }
  ): Promise<{ rows: any[] }>
}

/**
 * The pg connection of a transaction, for cursors and array-bound inserts
 * (knex would rewrite `?` and expand arrays).
 */
export async function rawConnection(trx: TransactionClientContract): Promise<RawConnection> {
  const knex = trx.getWriteClient().client
  return (await knex.acquireConnection()) as RawConnection
}
