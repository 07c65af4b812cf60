/*
|--------------------------------------------------------------------------
| Bouncer policies
|--------------------------------------------------------------------------
|
| Policies pre-registered with Bouncer, by name. Controllers may also pass
| the class itself: `bouncer.with(OrderPolicy)`.
|
*/

export const policies = {
  OrderPolicy: () => import('#policies/order_policy'),
  StockAdjustmentPolicy: () => import('#policies/stock_adjustment_policy'),
}
