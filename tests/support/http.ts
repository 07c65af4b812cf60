import type { ApiRequest, ApiResponse } from '@japa/api-client'

/**
 * Small helpers for API assertions on a pending request.
 */
export async function expectStatus(request: ApiRequest | Promise<ApiResponse>, status: number) {
  const response = await request
  response.assertStatus(status)
  return response
}

export async function statusOf(request: ApiRequest | Promise<ApiResponse>): Promise<number> {
  const response = await request
  return response.status()
}

export async function bodyOf(request: ApiRequest | Promise<ApiResponse>): Promise<any> {
  const response = await request
  return response.body()
}
