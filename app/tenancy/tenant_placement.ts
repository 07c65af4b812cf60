import db from '@adonisjs/lucid/services/db'
import { PLATFORM_CONNECTION } from '#config/database'
import { TenantNotFoundException } from '#exceptions/tenancy'
import { tenantSchema } from '#tenancy/schema'

/**
 * Where each tenant's schema lives, and moving it (Citus schema-based
 * sharding: every tenant schema is a distributed schema, one colocation
 * group placed whole on one worker). On plain PostgreSQL every tenant is
 * on the one server, and a move is refused.
 */
export interface Placement {
  tenantId: number
  name: string
  schema: string
  /** `host:port` of the node holding the schema; null on plain PostgreSQL. */
  node: string | null
  /** False when the schema is not a Citus distributed schema. */
  distributed: boolean
  tables: number
  bytes: number
}

export interface PlacementReport {
  /** The Citus version, or null on plain PostgreSQL. */
  citus: string | null
  placements: Placement[]
}

export type TransferMode = 'auto' | 'force_logical' | 'block_writes'

/**
 * An operator request the cluster cannot carry out (no Citus, unknown
 * node, schema not distributed).
 */
export class PlacementError extends Error {}

export function parseNode(value: string): { host: string; port: number } {
  const match = value.match(/^(.+):([0-9]{1,5})$/)
  const port = match ? Number(match[2]) : Number.NaN
  if (!match || port < 1 || port > 65_535) {
    throw new PlacementError(`Invalid node "${value}": expected host:port (e.g. 10.0.0.12:5432)`)
  }
  return { host: match[1], port }
}

const CITUS_PLACEMENTS_SQL = `
  with shards as materialized (
    select colocation_id, nodename, nodeport,
           count(*)::int as tables, coalesce(sum(shard_size), 0)::bigint as bytes
    from citus_shards where citus_table_type = 'schema'
    group by colocation_id, nodename, nodeport
  )
  select t.id, t.name, t.schema_name, ds.colocationid is not null as distributed,
         s.nodename, s.nodeport, coalesce(s.tables, 0)::int as tables,
         coalesce(s.bytes, 0)::bigint as bytes
  from public.tenants t
  left join pg_dist_schema ds on ds.schemaid = to_regnamespace(t.schema_name)
  left join shards s on s.colocation_id = ds.colocationid
  order by t.id, s.nodename, s.nodeport`

const LOCAL_PLACEMENTS_SQL = `
  select t.id, t.name, t.schema_name, false as distributed, null as nodename, null as nodeport,
         count(c.oid)::int as tables,
         coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint as bytes
  from public.tenants t
  left join pg_namespace n on n.nspname = t.schema_name
  left join pg_class c on c.relnamespace = n.oid and c.relkind = 'r'
  group by t.id, t.name, t.schema_name
  order by t.id`

export class TenantPlacement {
  constructor(private connectionName?: string) {}

  /**
   * The installed Citus version in this database, or null.
   */
  async citusVersion(): Promise<string | null> {
    const { rows } = await this.client().rawQuery(
      `select extversion from pg_extension where extname = 'citus'`
    )
    return rows[0]?.extversion ?? null
  }

  async report(): Promise<PlacementReport> {
    const citus = await this.citusVersion()
    const { rows } = await this.client().rawQuery(
      citus ? CITUS_PLACEMENTS_SQL : LOCAL_PLACEMENTS_SQL
    )
    return {
      citus,
      placements: rows.map(
        (row: {
          id: number
          name: string
          schema_name: string
          distributed: boolean
          nodename: string | null
          nodeport: number | null
          tables: number
          bytes: number
        }) => ({
          tenantId: row.id,
          name: row.name,
          schema: row.schema_name,
          node: row.nodename ? `${row.nodename}:${row.nodeport}` : null,
          distributed: row.distributed,
          tables: row.tables,
          bytes: row.bytes,
        })
      ),
    }
  }

  /**
   * Moves a tenant's schema (all its tables) to another worker while it
   * keeps serving: `citus_schema_move` copies the shards, replicates the
   * writes made meanwhile ('auto' uses logical replication when every
   * table has a replica identity, as tenant tables do), and switches over
   * with a short write lock. Returns the nodes before and after.
   */
  async move(
    tenantId: number,
    target: { host: string; port: number },
    mode: TransferMode = 'auto'
  ): Promise<{ from: string; to: string; moved: boolean }> {
    const citus = await this.citusVersion()
    if (!citus) {
      throw new PlacementError(
        'Moving a tenant needs Citus: the citus extension is not installed in this database ' +
          '(on plain PostgreSQL every tenant lives on this one server)'
      )
    }
    const { rows: tenants } = await this.client().rawQuery(
      `select t.schema_name, ds.colocationid
       from public.tenants t left join pg_dist_schema ds on ds.schemaid = to_regnamespace(t.schema_name)
       where t.id = ?`,
      [tenantId]
    )
    if (!tenants[0]) throw new TenantNotFoundException(tenantId)
    const schema = tenantSchema(tenantId)
    if (tenants[0].colocationid === null) {
      throw new PlacementError(
        `Schema ${schema} is not a distributed schema (was it created with ` +
          'citus.enable_schema_based_sharding on? See citus_schema_distribute)'
      )
    }
    const { rows: nodes } = await this.client().rawQuery(
      `select nodename, nodeport from pg_dist_node
       where isactive and noderole = 'primary' and shouldhaveshards order by nodeid`
    )
    const to = `${target.host}:${target.port}`
    if (
      !nodes.some(
        (node: { nodename: string; nodeport: number }) =>
          node.nodename === target.host && node.nodeport === target.port
      )
    ) {
      const known = nodes.map((node: { nodename: string; nodeport: number }) => {
        return `${node.nodename}:${node.nodeport}`
      })
      throw new PlacementError(
        `Unknown node ${to}: not an active worker of this cluster (workers: ${known.join(', ') || 'none'})`
      )
    }
    const from = await this.nodeOf(tenants[0].colocationid)
    if (from === to) return { from, to, moved: false }

    await this.client().rawQuery('select citus_schema_move(?::regnamespace, ?, ?, ?)', [
      schema,
      target.host,
      target.port,
      mode,
    ])
    return { from, to: await this.nodeOf(tenants[0].colocationid), moved: true }
  }

  private async nodeOf(colocationId: number): Promise<string> {
    const { rows } = await this.client().rawQuery(
      `select distinct n.nodename, n.nodeport
       from pg_dist_partition p
       join pg_dist_shard s on s.logicalrelid = p.logicalrelid
       join pg_dist_placement pl on pl.shardid = s.shardid
       join pg_dist_node n on n.groupid = pl.groupid
       where p.colocationid = ?`,
      [colocationId]
    )
    return rows
      .map((row: { nodename: string; nodeport: number }) => `${row.nodename}:${row.nodeport}`)
      .join(', ')
  }

  private client() {
    return db.connection(this.connectionName ?? PLATFORM_CONNECTION)
  }
}
