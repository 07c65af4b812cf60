/**
 * Calls the generated types must refuse. Compiled with client.ts: each
 * `@ts-expect-error` line must be a type error, so if the generated types
 * stopped describing the API (everything `any`, say), tsc fails on the
 * unused directive.
 */
import type { TypedClient } from './client.js'

export async function misuse(client: TypedClient) {
  // @ts-expect-error: an undocumented path
  await client.request('get', '/api/nowhere', {})

  // @ts-expect-error: products cannot be deleted in bulk
  await client.request('delete', '/api/products', {})

  await client.request('post', '/api/auth/register', {
    // @ts-expect-error: the owner's sign-up needs a store_name
    body: { username: 'ann', email: 'ann@example.com', password: 'secret-secret' },
  })

  // @ts-expect-error: ordering is one of the documented sort keys
  await client.request('get', '/api/products', { query: { ordering: 'colour' } })

  // @ts-expect-error: a product path needs its id
  await client.request('get', '/api/products/{id}', {})

  const page = await client.request('get', '/api/products', {})
  // @ts-expect-error: money is a decimal string, never a number
  const price: number = page.data[0].price
  return price
}
