/*
|--------------------------------------------------------------------------
| Bouncer abilities
|--------------------------------------------------------------------------
|
| Standalone abilities. Authorization of resources lives in policies
| (app/policies), used as `bouncer.with(Policy).authorize(...)`.
|
*/

export {}
