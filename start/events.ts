/*
|--------------------------------------------------------------------------
| Events
|--------------------------------------------------------------------------
|
| Event listeners of the application. Tenant lifecycle events are typed in
| app/events/tenant_events.ts.
|
*/
import '#events/tenant_events'
