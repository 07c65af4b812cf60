/*
| Routes of the auth area (sign-up, tokens, the caller's account) and of
| user management. Registered by start/routes.ts.
*/

import router from '@adonisjs/core/services/router'
import { middleware } from '#start/kernel'
import { signUpThrottle } from '#start/limiter'

const AuthController = () => import('#controllers/auth_controller')
const UsersController = () => import('#controllers/users_controller')

router
  .group(() => {
    router.post('/register', [AuthController, 'register']).use(signUpThrottle)
    router.post('/register/customer', [AuthController, 'registerCustomer']).use(signUpThrottle)
    router.post('/login', [AuthController, 'login'])
    router.post('/refresh', [AuthController, 'refresh'])
    router.post('/logout', [AuthController, 'logout'])
    router.get('/me', [AuthController, 'me']).use([middleware.auth(), middleware.tenant()])
  })
  .prefix('/api/auth')

/**
 * User management. Creating a user and changing one hash a password: the
 * `userWrite` middleware does that (and authorizes, and applies the
 * account-lookup limit) between `auth` and `tenant`, so no pooled
 * connection is held while scrypt runs. Route middleware runs after the
 * group's, hence `tenant` on each route here.
 */
router
  .group(() => {
    router.get('/', [UsersController, 'index']).use(middleware.tenant())
    router
      .post('/', [UsersController, 'store'])
      .use([middleware.userWrite({ ability: 'create' }), middleware.tenant()])
    router.get('/:id', [UsersController, 'show']).use(middleware.tenant())
    router
      .patch('/:id', [UsersController, 'update'])
      .use([middleware.userWrite({ ability: 'update' }), middleware.tenant()])
    router.delete('/:id', [UsersController, 'destroy']).use(middleware.tenant())
  })
  .prefix('/api/users')
  .use(middleware.auth())
