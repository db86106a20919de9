import { join, resolve } from 'node:path';
import { localSecretsKey } from '../agents/secrets.ts';
import { ConfigError } from '../config/load.ts';
import type { Config } from '../config/schema.ts';

/** Where an embedded install keeps its generated key when SECRETS_KEY is unset. */
export function localSecretsKeyPath(config: Pick<Config, 'DATA_DIR'>): string {
  return join(resolve(config.DATA_DIR), 'secrets.key');
}

/** The key that seals stored credentials: SECRETS_KEY, or an embedded install's generated one. */
export function secretsKey(config: Config): string {
  if (config.SECRETS_KEY) return config.SECRETS_KEY;
  if (config.DATABASE_URL) {
    throw new ConfigError([
      'SECRETS_KEY: required with DATABASE_URL (it encrypts stored credentials; give every process the same value)',
    ]);
  }
  return localSecretsKey(localSecretsKeyPath(config));
}
