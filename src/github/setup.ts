import { ConfigError } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { GitHubAuth } from './client.ts';

export interface GitHubSettings {
  auth: GitHubAuth;
  webhookSecrets: string[];
}

/**
 * The GitHub connection the configuration asks for: none when no GITHUB_ setting is given, and a
 * start-up error naming what is missing when only some are.
 */
export function gitHubSettings(config: Config): GitHubSettings | undefined {
  const appId = config.GITHUB_APP_ID;
  const privateKey = config.GITHUB_APP_PRIVATE_KEY;
  const secret = config.GITHUB_WEBHOOK_SECRET;
  if (appId === undefined && privateKey === undefined && !config.GITHUB_TOKEN && !secret) return undefined;
  const problems: string[] = [];
  if (appId !== undefined && privateKey === undefined) {
    problems.push(
      'GITHUB_APP_ID is set without GITHUB_APP_PRIVATE_KEY: generate a private key on the App’s settings page',
    );
  }
  if (privateKey !== undefined && appId === undefined) {
    problems.push(
      'GITHUB_APP_PRIVATE_KEY is set without GITHUB_APP_ID: copy the App id from its settings page',
    );
  }
  if (appId === undefined && privateKey === undefined && !config.GITHUB_TOKEN) {
    problems.push(
      'GITHUB_WEBHOOK_SECRET is set, but nothing to act on GitHub with: set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY, or GITHUB_TOKEN',
    );
  }
  if (!secret) {
    problems.push(
      'GitHub is configured without GITHUB_WEBHOOK_SECRET: set it to the App’s webhook secret (openssl rand -hex 32)',
    );
  }
  if (problems.length) throw new ConfigError(problems);
  return {
    auth: {
      apiUrl: config.GITHUB_API_URL,
      ...(appId !== undefined && privateKey !== undefined
        ? { app: { appId, privateKey } }
        : { token: config.GITHUB_TOKEN! }),
    },
    webhookSecrets: [
      secret!,
      ...(config.GITHUB_WEBHOOK_SECRET_PREVIOUS ? [config.GITHUB_WEBHOOK_SECRET_PREVIOUS] : []),
    ],
  };
}
