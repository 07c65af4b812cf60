import type { Role } from '#auth/jwt'

/**
 * A user as the auth endpoints name them: the contract's `user`.
 */
export interface AccountRow {
  id: number
  username: string
  email: string
  role: Role
}

/**
 * A row of `public.users` as the users endpoints read it (never the
 * password hash).
 */
export interface UserRow extends AccountRow {
  is_active: boolean
  created_at: Date
  updated_at: Date
}

export const USER_COLUMNS: string[] = [
  'id',
  'username',
  'email',
  'role',
  'is_active',
  'created_at',
  'updated_at',
]
