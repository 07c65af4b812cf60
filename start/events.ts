/*
|--------------------------------------------------------------------------
| Events
|--------------------------------------------------------------------------
|
| Event listeners of the application. Tenant lifecycle events are typed in
| app/events/tenant_events.ts.
|
*/
import emitter from '@adonisjs/core/services/emitter'
import '#events/tenant_events'

const RefillTenantPool = () => import('#listeners/refill_tenant_pool')

emitter.on('tenant:provisioned', [RefillTenantPool, 'handle'])
