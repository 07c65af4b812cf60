import { BaseTransformer } from '@adonisjs/core/transformers'
import type { TenantRow } from '#models/tenant'

/**
 * The contract's `tenant`: `{id, name, slug}`.
 */
export default class TenantTransformer extends BaseTransformer<TenantRow> {
  toObject() {
    return this.pick(this.resource, ['id', 'name', 'slug'])
  }
}
