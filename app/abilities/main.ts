/*
|--------------------------------------------------------------------------
| Bouncer abilities
|--------------------------------------------------------------------------
|
| Standalone abilities, pre-registered on every request's Bouncer. The
| authorization rules of this API live in policies (app/policies); export
| an ability here only for a rule that belongs to no resource.
|
*/

export {}
