import { configApp } from '@adonisjs/eslint-config'

export default configApp({ ignores: ['build/**', '.tools/**', 'tmp/**', 'bench/results/**'] })
