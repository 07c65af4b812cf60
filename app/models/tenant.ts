/**
 * The part of a `public.tenants` row that the API shows.
 */
export interface TenantRow {
  id: number
  name: string
  slug: string
}
