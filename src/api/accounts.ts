/** Accounts as `idsync admin` and POST /api/v1/accounts make them: a scrypt hash of a given or generated password. */
import { randomBytes } from 'node:crypto';
import { hashPassword } from '../directory/password.js';
import type { AccountRecord, AccountStore, Role } from '../store/accounts.js';
import { ApiError } from './errors.js';

export const MIN_PASSWORD = 12;

/** 144 random bits, in 24 URL-safe characters */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD) throw new ApiError('ACCOUNT_PASSWORD_WEAK', `the password must have at least ${MIN_PASSWORD} characters`);
}

/** Creates the account; `password` when one was generated (to be shown once). */
export async function createAccount(
  store: AccountStore,
  name: string,
  role: Role,
  given?: string,
): Promise<{ account: AccountRecord; password?: string }> {
  if (given !== undefined) checkPassword(given);
  const password = given ?? generatePassword();
  const account = await store.createAccount(name, role, await hashPassword(password));
  return given === undefined ? { account, password } : { account };
}
