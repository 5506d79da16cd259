import {expect} from 'vitest';
import {AnemosError} from '../../src/shared/errors.js';

/** The AnemosError a promise rejects with; fails the test if it resolves or throws anything else. */
export async function failure(p: Promise<unknown>): Promise<AnemosError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(AnemosError);
  return err as AnemosError;
}
