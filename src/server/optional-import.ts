import { SignalingError } from '../errors.js';

/**
 * Imports an optional peer dependency the server needs only for one option.
 * @throws SignalingError `invalid-option` saying which option needs `what` and how to install `pkg`
 */
export async function importOptional<T>(
  load: () => Promise<unknown>,
  option: string,
  what: string,
  pkg: string,
): Promise<T> {
  try {
    return (await load()) as T;
  } catch (cause) {
    throw new SignalingError('invalid-option', `the ${option} option needs ${what}: npm install ${pkg}`, {
      cause,
    });
  }
}
