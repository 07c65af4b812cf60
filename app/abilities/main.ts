/*
|--------------------------------------------------------------------------
| Bouncer abilities
|--------------------------------------------------------------------------
|
| Abilities pre-registered on every request's bouncer. Authorization in
| this application is written as policies (app/policies), used with
| `bouncer.with(Policy).authorize(action, ...)`; add an ability here only
| for a rule that belongs to no resource.
|
*/

export {}
