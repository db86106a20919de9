import type { Command } from 'commander';
import { ROLES } from '../../auth/roles.ts';
import { generateToken } from '../../auth/token-secret.ts';
import type { ApiClient } from '../api-client.ts';
import { EXIT, ExitError } from '../exit.ts';
import { listJson, table } from '../format.ts';

interface TokenJson {
  id: string;
  name: string;
  role: string;
  prefix: string;
  created_by: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  token?: string;
}

const UNITS_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `90d`, `12h`, `30m` → milliseconds; undefined when the text is not such a duration. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,6})([mhd])$/.exec(text.trim());
  return match ? Number(match[1]) * UNITS_MS[match[2] as keyof typeof UNITS_MS] : undefined;
}

const when = (iso: string | null) => (iso ? iso.replace('T', ' ').slice(0, 16) : '-');

function tokenTable(tokens: TokenJson[]): string {
  if (tokens.length === 0) return 'no tokens';
  return table(
    ['ID', 'NAME', 'ROLE', 'PREFIX', 'CREATED', 'EXPIRES', 'LAST USED', 'STATE'],
    tokens.map((token) => [
      token.id,
      token.name,
      token.role,
      `${token.prefix}…`,
      when(token.created_at),
      when(token.expires_at),
      when(token.last_used_at),
      token.revoked_at
        ? 'revoked'
        : token.expires_at && token.expires_at <= new Date().toISOString()
          ? 'expired'
          : 'active',
    ]),
  );
}

export function registerTokenCommands(
  program: Command,
  client: () => ApiClient,
  out: (text: string) => void,
): void {
  const tokens = program
    .command('tokens')
    .description('API tokens: create, list and revoke (needs an admin token)');

  tokens
    .command('create')
    .description('Create a token; its value is printed once')
    .requiredOption('--name <name>', 'who the token stands for (letters, digits, . _ @ -)')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .option('--expires-in <duration>', 'lifetime such as 90d, 12h or 30m (default: no expiry)')
    .option('--json', 'print as JSON')
    .action(async (flags: { name: string; role: string; expiresIn?: string; json?: boolean }) => {
      if (!(ROLES as readonly string[]).includes(flags.role)) {
        throw new ExitError(EXIT.usage, `--role: expected one of ${ROLES.join(', ')}, got ${flags.role}`);
      }
      let expiresAt: string | undefined;
      if (flags.expiresIn !== undefined) {
        const ms = parseDuration(flags.expiresIn);
        if (!ms)
          throw new ExitError(
            EXIT.usage,
            `--expires-in: expected a duration such as 90d, 12h or 30m, got ${flags.expiresIn}`,
          );
        expiresAt = new Date(Date.now() + ms).toISOString();
      }
      const created = await client().request<TokenJson>('POST', '/api/v1/tokens', {
        body: { name: flags.name, role: flags.role, ...(expiresAt ? { expires_at: expiresAt } : {}) },
      });
      if (flags.json) return out(JSON.stringify(created, null, 2));
      out(tokenTable([created]));
      out(`\ntoken (shown only now, store it safely):\n${created.token}`);
    });

  tokens
    .command('list')
    .description('List tokens (never their values)')
    .option('--json', 'print as JSON')
    .action(async (flags: { json?: boolean }) => {
      const { items } = await client().request<{ items: TokenJson[] }>('GET', '/api/v1/tokens');
      out(flags.json ? listJson(items) : tokenTable(items));
    });

  tokens
    .command('revoke')
    .description('Revoke a token: it stops working at once')
    .argument('<id>', 'token id (from `supervisor tokens list`)')
    .option('--json', 'print the revoked token as JSON')
    .action(async (id: string, flags: { json?: boolean }) => {
      const revoked = await client().request<TokenJson>('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`);
      if (flags.json) return out(JSON.stringify(revoked, null, 2));
      out(`revoked ${revoked.id} (${revoked.name}, ${revoked.role})`);
    });

  tokens
    .command('generate')
    .description('Print a new random token value for ADMIN_TOKEN (works offline; registers nothing)')
    .action(() => out(generateToken()));
}
