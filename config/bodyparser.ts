import { defineConfig } from '@adonisjs/core/bodyparser'

/**
 * JSON only. A body over the limit answers 413, malformed JSON 400.
 */
const bodyParserConfig = defineConfig({
  allowedMethods: ['POST', 'PUT', 'PATCH', 'DELETE'],
  json: {
    limit: '256kb',
    strict: true,
    convertEmptyStringsToNull: false,
    types: ['application/json', 'application/*+json'],
  },
  form: {
    limit: '256kb',
    convertEmptyStringsToNull: false,
    types: ['application/x-www-form-urlencoded'],
  },
  raw: {
    limit: '256kb',
    types: [],
  },
  multipart: {
    autoProcess: false,
    processManually: [],
    convertEmptyStringsToNull: false,
    limit: '256kb',
    types: [],
  },
})

export default bodyParserConfig
