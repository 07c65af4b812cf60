import { RuntimeException } from '@adonisjs/core/exceptions'
import { BaseTransformer, Collection, Item, Maybe } from '@adonisjs/core/transformers'

/**
 * The framework's `Transformer.transform(data)` builds, for every call, an
 * error whose stack would explain a later "cannot transform undefined"
 * (about 2 % of a page request's CPU here, capturing a stack that is
 * never shown). For a defined resource or an array that error can never be
 * thrown, so `directTransform` builds the same Item or Collection with
 * one shared placeholder instead; anything else (undefined, null, a
 * `Maybe`) goes to the framework's `transform` unchanged.
 *
 * A transformer opts in with `static transform = directTransform`.
 */
const NEVER_THROWN = new RuntimeException('A defined resource never fails this way')

export const directTransform = function (this: any, data: unknown, ...rest: unknown[]) {
  if (data === undefined || data === null || data instanceof Maybe) {
    return (BaseTransformer.transform as (...args: unknown[]) => unknown).call(this, data, ...rest)
  }
  if (Array.isArray(data)) return new Collection([data, rest], this, 1, 'toObject', NEVER_THROWN)
  return new Item([data, rest], this, 1, 'toObject', NEVER_THROWN)
} as typeof BaseTransformer.transform
