import { existsSync, readFileSync } from 'node:fs';
import { parseDotEnv } from './dotenv.ts';
import { type Config, type ConfigInput, configSchema, SECRET_KEYS } from './schema.ts';

/** A configuration that failed validation; `problems` holds one line per bad variable. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((line) => `  ${line}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface LoadConfigOptions {
  /** Variables from the process environment; they win over the `.env` file. */
  env: Record<string, string | undefined>;
  /** Path of an optional `.env` file. */
  envFile?: string;
}

/**
 * Reads the schema's variables from the environment and an optional `.env` file, validates them
 * and returns a frozen config. Empty strings count as unset, so `FOO=` in `.env` means "default".
 */
export function loadConfig({ env, envFile }: LoadConfigOptions): Config {
  const fromFile = envFile && existsSync(envFile) ? parseDotEnv(readFileSync(envFile, 'utf8')) : {};
  const input: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key] ?? fromFile[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  // The seed project's APP_DEBUG=true turned on debug output; an explicit LOG_LEVEL wins.
  if (input.LOG_LEVEL === undefined && /^(true|1)$/i.test(input.APP_DEBUG ?? '')) input.LOG_LEVEL = 'debug';
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? 'config');
      const shown = SECRET_KEYS.has(key as keyof ConfigInput)
        ? '(value hidden)'
        : `got ${JSON.stringify(input[key])}`;
      return `${key}: ${issue.message}; ${shown}`;
    });
    throw new ConfigError(problems);
  }
  return Object.freeze(parsed.data);
}

/** The subset of a config that is safe to show: secrets replaced by whether they are set. */
export function describeConfig(config: Config): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema.shape) as Array<keyof Config>) {
    const value = config[key];
    const unset = value === undefined || (Array.isArray(value) && value.length === 0);
    shown[key] = SECRET_KEYS.has(key) ? (unset ? 'unset' : 'set') : value;
  }
  return shown;
}
