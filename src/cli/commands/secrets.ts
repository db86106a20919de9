import { randomBytes } from 'node:crypto';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { SecretBox } from '../../agents/secrets.ts';
import type { Config } from '../../config/schema.ts';
import { resealCredentials } from '../../pool/reseal-credentials.ts';
import { localSecretsKeyPath, secretsKey } from '../../runtime/secrets-key.ts';
import { withDirectDatabase } from '../direct-database.ts';
import { EXIT, ExitError } from '../exit.ts';

/**
 * `supervisor secrets rotate`: re-encrypts the stored credentials with a new key. With SECRETS_KEY
 * set, the new key comes from NEW_SECRETS_KEY and the operator then swaps the two in every
 * process's configuration; an embedded install without SECRETS_KEY gets a new generated key file.
 * Run it with the supervisor stopped: a process still holding the old key cannot open the new seals.
 */
export async function rotateSecrets(
  config: Config,
  env: Record<string, string | undefined>,
  out: (text: string) => void,
): Promise<void> {
  const newKey = env.NEW_SECRETS_KEY;
  const keyFile = config.SECRETS_KEY || config.DATABASE_URL ? undefined : localSecretsKeyPath(config);
  if (newKey !== undefined && newKey.length < 16) {
    throw new ExitError(EXIT.usage, 'NEW_SECRETS_KEY: expected at least 16 characters');
  }
  if (newKey === undefined && !keyFile) {
    throw new ExitError(
      EXIT.usage,
      'NEW_SECRETS_KEY: set it to the new key (at least 16 characters); SECRETS_KEY holds the current one',
    );
  }
  if (keyFile && !existsSync(keyFile)) {
    out(`no credentials are sealed yet (${keyFile} does not exist): nothing to rotate`);
    return;
  }
  const oldKey = secretsKey(config);
  const next = newKey ?? randomBytes(32).toString('base64url');
  if (next === oldKey) throw new ExitError(EXIT.usage, 'NEW_SECRETS_KEY: is the same as the current key');

  await withDirectDatabase(config, async (database) => {
    await database.migrate();
    // The new key file is written before the database changes, and swapped in right after, so
    // at no point is the only copy of the key that opens the credentials lost.
    const pending = keyFile && newKey === undefined ? `${keyFile}.next` : undefined;
    if (pending) writeFileSync(pending, `${next}\n`, { mode: 0o600 });
    let count: number;
    try {
      count = await resealCredentials(database.db, new SecretBox(oldKey), new SecretBox(next), new Date());
    } catch (error) {
      throw new ExitError(EXIT.usage, error instanceof Error ? error.message : String(error));
    }
    if (pending && keyFile) renameSync(pending, keyFile);
    out(`re-sealed ${count} credential(s) with the new key`);
    if (!pending) {
      out(
        keyFile
          ? 'now set SECRETS_KEY to the value of NEW_SECRETS_KEY before starting the supervisor (DATA_DIR/secrets.key no longer opens them)'
          : 'now set SECRETS_KEY to the value of NEW_SECRETS_KEY in every process’s configuration before starting them',
      );
    } else {
      out(`new key written to ${keyFile}`);
    }
  });
}
