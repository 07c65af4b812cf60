/*
|--------------------------------------------------------------------------
| Bouncer policies
|--------------------------------------------------------------------------
|
| Every policy, lazily imported, so it can be referenced by name on
| `ctx.bouncer`. Controllers pass the class itself:
| `bouncer.with(ProductPolicy).authorize('update', product)`.
|
*/

export const policies = {
  ProductPolicy: () => import('#policies/product_policy'),
}
