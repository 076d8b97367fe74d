// Packages only some users need (the BullMQ queue and its Redis client) are optional peer
// dependencies: a plain install leaves them out, and the feature that needs one loads it here on
// first use, so a missing one is a typed error naming what to install, not a crash at require time.
import { MissingDependencyError } from '../errors';

/** `require(name)` for `feature`; MissingDependencyError (listing every package of `group`) when it is not installed. */
export function requireOptional<T>(name: string, feature: string, group: string[] = [name]): T {
  try {
    return require(name) as T;
  } catch (e) {
    const code = (e as { code?: string }).code;
    // Only the package itself missing; a broken install of it (or of its own dependencies) is its error.
    if (code === 'MODULE_NOT_FOUND' && new RegExp(`'${name.replace(/[/\\-]/g, '\\$&')}'`).test((e as Error).message)) {
      throw new MissingDependencyError(feature, group, { cause: e });
    }
    throw e;
  }
}
