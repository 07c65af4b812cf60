/*
| Routes of the auth area (sign-up, tokens, the caller's account) and of
| user management. Registered by start/routes.ts.
*/

import router from '@adonisjs/core/services/router'
import { middleware } from '#start/kernel'

const AuthController = () => import('#controllers/auth_controller')
const UsersController = () => import('#controllers/users_controller')

router
  .group(() => {
    router.post('/register', [AuthController, 'register'])
    router.post('/register/customer', [AuthController, 'registerCustomer'])
    router.post('/login', [AuthController, 'login'])
    router.post('/refresh', [AuthController, 'refresh'])
    router.post('/logout', [AuthController, 'logout'])
    router.get('/me', [AuthController, 'me']).use([middleware.auth(), middleware.tenant()])
  })
  .prefix('/api/auth')

router
  .group(() => {
    router.get('/', [UsersController, 'index'])
    router.post('/', [UsersController, 'store'])
    router.get('/:id', [UsersController, 'show'])
    router.patch('/:id', [UsersController, 'update'])
    router.delete('/:id', [UsersController, 'destroy'])
  })
  .prefix('/api/users')
  .use([middleware.auth(), middleware.tenant()])
