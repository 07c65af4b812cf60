import { createHash, type Hash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { pipeline } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'
import { createGunzip } from 'node:zlib'
import type { QueryClientContract } from '@adonisjs/lucid/types/database'

/**
 * The tenant archive: one tenant as a gzip'd file of JSON lines (NDJSON),
 * written by `tenants:export` and read by `tenants:import`. The format is
 * documented in docs/design/tenant_archive.md; this module holds its
 * constants, the line reader that checks every count and digest, and the
 * catalog queries both sides share.
 *
 * Lines, in order:
 * 1. the header: format, format version, the tenant migration the schema
 *    was at (and every migration before it), the source, and the number of
 *    rows of each section;
 * 2. per section: a start line (name, kind, columns with their types), one
 *    line per row (a JSON array of the columns' text representation or
 *    null), an end line (row count and the SHA-256 of the section's lines);
 * 3. the last line: the SHA-256 of every byte before it.
 */
export const ARCHIVE_FORMAT = 'tenant-commerce-archive'
export const ARCHIVE_VERSION = 1

export type SectionKind = 'tenant' | 'users' | 'table'

export interface ArchiveColumn {
  name: string
  type: string
}

export interface ArchiveHeader {
  format: typeof ARCHIVE_FORMAT
  version: number
  exported_at: string
  source: { tenant_id: number; schema: string }
  tenant_migration: string | null
  migrations: string[]
  sections: { name: string; kind: SectionKind; rows: number }[]
}

export interface SectionStart {
  section: string
  kind: SectionKind
  columns: ArchiveColumn[]
}

export type ArchiveRow = (string | null)[]

/** The platform sections: the tenant's row and its users (no sessions, no refresh tokens). */
export const TENANT_COLUMNS: ArchiveColumn[] = [
  { name: 'name', type: 'character varying(200)' },
  { name: 'slug', type: 'character varying(80)' },
  { name: 'status', type: 'character varying(16)' },
  { name: 'created_at', type: 'timestamp with time zone' },
]

export const USER_COLUMNS: ArchiveColumn[] = [
  { name: 'id', type: 'bigint' },
  { name: 'username', type: 'character varying(150)' },
  { name: 'email', type: 'character varying(254)' },
  { name: 'password', type: 'character varying(255)' },
  { name: 'role', type: 'character varying(16)' },
  { name: 'is_active', type: 'boolean' },
  { name: 'created_at', type: 'timestamp with time zone' },
  { name: 'updated_at', type: 'timestamp with time zone' },
]

/**
 * Tenant columns that hold a user id (users live in public and get new ids
 * on import; no foreign key can say so, as none may leave a tenant schema):
 * known by name. A new tenant column that refers to a user must be named
 * so (`*_user_id`, `user_id`, `customer_id`, `assigned_to`, `requested_by`,
 * `created_by`, `updated_by`).
 */
export const USER_REFERENCE =
  /^(?:user_id|customer_id|assigned_to|requested_by|created_by|updated_by|[a-z0-9_]+_user_id)$/

export function isUserReference(column: ArchiveColumn) {
  return USER_REFERENCE.test(column.name) && column.type === 'bigint'
}

/**
 * An archive that cannot be imported: malformed, altered, damaged, or of a
 * version this application cannot read. The message says which.
 */
export class ArchiveError extends Error {}

export interface SchemaTable {
  name: string
  /** baseType: the type without its modifier, to cast to (the column's own checks its length) */
  columns: (ArchiveColumn & { baseType: string; identity: boolean; serial: boolean })[]
}

/**
 * Every table of a tenant schema (but its migration ledger) with its
 * columns (generated ones excluded), read from the catalog, in an order
 * that satisfies its foreign keys (parents first).
 */
export async function schemaTables(client: QueryClientContract, schema: string) {
  const { rows } = await client.rawQuery(
    `select c.relname::text as table_name, a.attname::text as column_name,
            format_type(a.atttypid, a.atttypmod) as type,
            format_type(a.atttypid, null) as base_type,
            a.attidentity <> '' as identity,
            coalesce(pg_get_expr(d.adbin, d.adrelid) like 'nextval(%', false) as serial
     from pg_class c
     join pg_namespace n on n.oid = c.relnamespace
     join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
     left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
     where n.nspname = ? and c.relkind in ('r', 'p') and c.relname <> 'schema_migrations'
       and a.attgenerated = ''
     order by c.relname, a.attnum`,
    [schema]
  )
  const tables = new Map<string, SchemaTable>()
  for (const row of rows) {
    let table = tables.get(row.table_name)
    if (!table) {
      table = { name: row.table_name, columns: [] }
      tables.set(row.table_name, table)
    }
    table.columns.push({
      name: row.column_name,
      type: row.type,
      baseType: row.base_type,
      identity: row.identity,
      serial: row.serial,
    })
  }
  const { rows: keys } = await client.rawQuery(
    `select c.relname::text as child, p.relname::text as parent
     from pg_constraint con
     join pg_class c on c.oid = con.conrelid
     join pg_class p on p.oid = con.confrelid
     join pg_namespace n on n.oid = c.relnamespace
     where con.contype = 'f' and n.nspname = ? and c.oid <> p.oid`,
    [schema]
  )
  const parents = new Map<string, Set<string>>()
  for (const key of keys) {
    if (!parents.has(key.child)) parents.set(key.child, new Set())
    parents.get(key.child)!.add(key.parent)
  }
  const ordered: SchemaTable[] = []
  const placed = new Set<string>()
  const visit = (name: string, path: Set<string>) => {
    if (placed.has(name) || path.has(name) || !tables.has(name)) return
    path.add(name)
    for (const parent of [...(parents.get(name) ?? [])].sort()) visit(parent, path)
    placed.add(name)
    ordered.push(tables.get(name)!)
  }
  for (const name of [...tables.keys()].sort()) visit(name, new Set())
  return ordered
}

export interface ArchiveVisitor {
  header?(header: ArchiveHeader): void | Promise<void>
  sectionStart?(start: SectionStart): void | Promise<void>
  rows?(start: SectionStart, rows: ArchiveRow[]): void | Promise<void>
  sectionEnd?(start: SectionStart): void | Promise<void>
}

const BATCH_ROWS = 1000

function digest(hash: Hash) {
  return hash.digest('hex')
}

function parseLine(line: string, lineNumber: number): unknown {
  try {
    return JSON.parse(line)
  } catch {
    throw new ArchiveError(`Archive refused: line ${lineNumber} is not JSON`)
  }
}

/**
 * Reads an archive line by line (streamed: memory stays flat), checking
 * its structure, every section's row count against the header, every
 * section's digest and the whole archive's, and hands the rows to the
 * visitor in batches. Throws ArchiveError on the first thing that does not
 * match. A visitor that writes to the database must do it in a
 * transaction the error rolls back: the last checks come at the end.
 */
export async function readArchive(file: string, visitor: ArchiveVisitor = {}) {
  // Each chunk is read only when the previous lines are handled: for await
  // over the stream is the backpressure, so memory stays flat.
  const input = createReadStream(file)
  const stream = pipeline(input, createGunzip(), () => {})
  const lines = linesOf(stream)

  const whole = createHash('sha256')
  let header: ArchiveHeader | undefined
  let section: SectionStart | undefined
  let sectionHash: Hash | undefined
  let sectionRows = 0
  let batch: ArchiveRow[] = []
  let sectionIndex = 0
  let finished = false
  let lineNumber = 0

  const flush = async () => {
    if (batch.length && section) await visitor.rows?.(section, batch)
    batch = []
  }

  try {
    await readLines()
  } catch (error) {
    if (error instanceof ArchiveError) throw error
    const code = (error as { code?: string }).code
    if (code?.startsWith('Z_')) {
      throw new ArchiveError(
        `Archive refused: cannot read it as gzip (${(error as Error).message})`
      )
    }
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
      throw new ArchiveError(`Archive refused: ${(error as Error).message}`)
    }
    throw error
  } finally {
    stream.destroy()
  }
  if (!header) throw new ArchiveError('Archive refused: it is empty')
  if (!finished) {
    throw new ArchiveError('Archive refused: it is truncated (no final digest line)')
  }
  return header

  async function readLines() {
    for await (const line of lines) {
      lineNumber++
      if (finished)
        throw new ArchiveError(`Archive refused: data after its last line (line ${lineNumber})`)
      const bytes = `${line}\n`
      const value = parseLine(line, lineNumber) as any

      if (!header) {
        header = checkHeader(value)
        whole.update(bytes)
        await visitor.header?.(header)
        continue
      }
      if (section && Array.isArray(value)) {
        if (value.length !== section.columns.length || !value.every(isCell)) {
          throw new ArchiveError(
            `Archive refused: line ${lineNumber} of section "${section.section}" does not have its ${section.columns.length} columns`
          )
        }
        whole.update(bytes)
        sectionHash!.update(bytes)
        sectionRows++
        batch.push(value)
        if (batch.length >= BATCH_ROWS) await flush()
        continue
      }
      if (section && value?.end === section.section) {
        await flush()
        const expected = header.sections[sectionIndex]
        if (value.rows !== sectionRows || expected.rows !== sectionRows) {
          throw new ArchiveError(
            `Archive refused: section "${section.section}" has ${sectionRows} rows, its header says ${expected.rows}`
          )
        }
        if (value.sha256 !== digest(sectionHash!)) {
          throw new ArchiveError(
            `Archive refused: the digest of section "${section.section}" does not match its rows (the archive was altered or damaged)`
          )
        }
        whole.update(bytes)
        await visitor.sectionEnd?.(section)
        section = undefined
        sectionIndex++
        continue
      }
      if (!section && value?.end === 'archive') {
        if (sectionIndex !== header.sections.length) {
          throw new ArchiveError(
            `Archive refused: it ends after ${sectionIndex} of its ${header.sections.length} sections`
          )
        }
        if (value.sha256 !== digest(whole)) {
          throw new ArchiveError(
            'Archive refused: its digest does not match its content (the archive was altered or damaged)'
          )
        }
        finished = true
        continue
      }
      if (!section && typeof value?.section === 'string') {
        const expected = header.sections[sectionIndex]
        section = checkSectionStart(value, expected)
        sectionHash = createHash('sha256').update(bytes)
        sectionRows = 0
        whole.update(bytes)
        await visitor.sectionStart?.(section)
        continue
      }
      throw new ArchiveError(`Archive refused: unexpected line ${lineNumber}`)
    }
  }
}

/**
 * The lines of a byte stream (UTF-8, `\n`-terminated), read on demand.
 */
async function* linesOf(stream: AsyncIterable<Buffer>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8')
  let rest = ''
  for await (const chunk of stream) {
    const parts = (rest + decoder.write(chunk)).split('\n')
    rest = parts.pop()!
    yield* parts
  }
  rest += decoder.end()
  if (rest.length > 0) yield rest
}

function isCell(value: unknown) {
  return value === null || typeof value === 'string'
}

function checkHeader(value: any): ArchiveHeader {
  if (value?.format !== ARCHIVE_FORMAT) {
    throw new ArchiveError(`Archive refused: not a ${ARCHIVE_FORMAT} file`)
  }
  if (value.version !== ARCHIVE_VERSION) {
    throw new ArchiveError(
      `Archive refused: format version ${value.version} (this application reads version ${ARCHIVE_VERSION})`
    )
  }
  const valid =
    Array.isArray(value.sections) &&
    value.sections.every(
      (section: any) =>
        typeof section?.name === 'string' &&
        ['tenant', 'users', 'table'].includes(section.kind) &&
        Number.isSafeInteger(section.rows) &&
        section.rows >= 0
    ) &&
    Array.isArray(value.migrations) &&
    value.migrations.every((name: unknown) => typeof name === 'string') &&
    (value.tenant_migration === null || typeof value.tenant_migration === 'string')
  if (!valid) throw new ArchiveError('Archive refused: its header is malformed')
  const kinds = value.sections.map((section: any) => section.kind)
  if (kinds[0] !== 'tenant' || kinds[1] !== 'users' || value.sections[0].rows !== 1) {
    throw new ArchiveError('Archive refused: it must start with its tenant and users sections')
  }
  return value as ArchiveHeader
}

function checkSectionStart(value: any, expected: ArchiveHeader['sections'][number] | undefined) {
  if (!expected || value.section !== expected.name || value.kind !== expected.kind) {
    throw new ArchiveError(
      `Archive refused: section "${value.section}" is not the one its header announces next`
    )
  }
  const columnsValid =
    Array.isArray(value.columns) &&
    value.columns.length > 0 &&
    value.columns.every(
      (column: any) => typeof column?.name === 'string' && typeof column?.type === 'string'
    )
  if (!columnsValid) {
    throw new ArchiveError(`Archive refused: section "${value.section}" has malformed columns`)
  }
  return { section: value.section, kind: value.kind, columns: value.columns } as SectionStart
}
