import type { Role } from '#auth/jwt'

/**
 * A row of `public.users` as the users endpoints read it.
 */
export interface UserRow {
  id: number
  username: string
  email: string
  role: Role
  is_active: boolean
  created_at: Date
  updated_at: Date
}

export const USER_COLUMNS = [
  'id',
  'username',
  'email',
  'role',
  'is_active',
  'created_at',
  'updated_at',
]

/**
 * `user` of the contract (`{id, username, email, role}`). The users
 * endpoints add whether the account is active and its timestamps; the
 * auth endpoints answer the four contract fields.
 */
export const userTransformer = {
  transform(row: UserRow) {
    return {
      id: row.id,
      username: row.username,
      email: row.email,
      role: row.role,
      is_active: row.is_active,
      created_at: row.created_at.toISOString(),
      updated_at: row.updated_at.toISOString(),
    }
  },

  summary(row: { id: number; username: string; email: string; role: Role }) {
    return { id: row.id, username: row.username, email: row.email, role: row.role }
  },
}
