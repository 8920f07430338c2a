/**
 * `idsync admin`: the admin API's accounts (docs/api.md). A password is generated and printed once, or read
 * from stdin (--password-stdin); only its scrypt hash is kept, in accounts.db beside the state.
 */
import type { Command } from 'commander';
import { checkPassword, createAccount, generatePassword } from '../api/accounts.js';
import { loadConfig } from '../config/load.js';
import { hashPassword } from '../directory/password.js';
import { AccountStore, ROLES, type Role } from '../store/accounts.js';
import { ExitCode } from './exit-codes.js';

interface Io {
  out(text: string): void;
  err(text: string): void;
}

export function adminCommands(program: Command, io: Io, configFile: () => string, run: (fn: () => Promise<number>) => Promise<void>): void {
  const withAccounts = async (fn: (store: AccountStore) => Promise<number>) => {
    const store = await AccountStore.open(loadConfig(configFile()));
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  };
  const admin = program.command('admin').description('accounts of the admin API and portal (docs/api.md): create, list, delete, password');
  admin
    .command('create <name>')
    .description('create an account with a role and print its generated password once (only its hash is kept)')
    .requiredOption('--role <role>', `${ROLES.join(', ')}`)
    .option('--password-stdin', 'read the password from stdin instead of generating one (at least 12 characters)')
    .action((name: string, opts: { role: string; passwordStdin?: boolean }) =>
      run(() =>
        withAccounts(async (store) => {
          const given = opts.passwordStdin ? await readPassword() : undefined;
          const { password } = await createAccount(store, name, opts.role as Role, given);
          if (password !== undefined) {
            io.out(password);
            io.err(`Account ${name} (${opts.role}) created. Its password is shown only this once: log in to the portal with it.`);
          } else io.err(`Account ${name} (${opts.role}) created.`);
          return ExitCode.ok;
        }),
      ),
    );
  admin
    .command('list')
    .description('the accounts: names, roles and creation times (never a password)')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) =>
      run(() =>
        withAccounts(async (store) => {
          const list = await store.accounts();
          if (opts.json) io.out(JSON.stringify({ accounts: list }));
          else io.out(list.length === 0 ? 'No accounts. Make the first with `idsync admin create NAME --role admin`.' : list.map((a) => `${a.name}  ${a.role}  ${a.created}`).join('\n'));
          return ExitCode.ok;
        }),
      ),
    );
  admin
    .command('delete <name>')
    .description('delete an account (not the last admin); its sessions end')
    .action((name: string) =>
      run(() =>
        withAccounts(async (store) => {
          store.deleteAccount(name);
          io.out(`Account ${name} deleted.`);
          return ExitCode.ok;
        }),
      ),
    );
  admin
    .command('password <name>')
    .description("set a new password for an account: generated and printed once, or read from stdin")
    .option('--password-stdin', 'read the password from stdin (at least 12 characters)')
    .action((name: string, opts: { passwordStdin?: boolean }) =>
      run(() =>
        withAccounts(async (store) => {
          const given = opts.passwordStdin ? await readPassword() : undefined;
          if (given !== undefined) checkPassword(given);
          const password = given ?? generatePassword();
          store.setPassword(name, await hashPassword(password));
          if (given === undefined) io.out(password);
          io.err(`The password of ${name} is changed${given === undefined ? ' (shown only this once)' : ''}; sessions of the account end within the next request.`);
          return ExitCode.ok;
        }),
      ),
    );
}

/** The first line of stdin (a password piped in, without its newline). */
async function readPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0]!;
}
