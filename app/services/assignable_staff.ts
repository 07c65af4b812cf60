import AppException from '#exceptions/app_exception'
import { currentTenant } from '#tenancy/context'

/**
 * The one rule for `assigned_to`, on products and on orders alike: it names
 * an active staff member of the current tenant, or the request is a 422
 * on that field. Read on the request's tenant transaction.
 */
export async function assertAssignableStaff(userId: number): Promise<void> {
  const { trx, tenantId } = currentTenant()
  const { rows } = await trx.rawQuery(
    `select 1 from public.users where id = ? and tenant_id = ? and role = 'staff' and is_active`,
    [userId, tenantId]
  )
  if (rows.length === 0) {
    throw AppException.unprocessable(
      'The assigned_to field must be an active staff member of this store',
      'assigned_to'
    )
  }
}
