/**
 * `tenant` of the contract: `{id, name, slug}`.
 */
export const tenantTransformer = {
  transform(row: { id: number; name: string; slug: string }) {
    return { id: row.id, name: row.name, slug: row.slug }
  },
}
