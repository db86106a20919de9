import pino, { type DestinationStream, type Logger } from 'pino';
import { type Config, SECRET_KEYS } from '../config/schema.ts';
import { registerUrlSecret, scrubSecrets } from './secret-scrubber.ts';

/** Request and config paths that can hold credentials; pino replaces their values before writing. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.apiKey',
  '*.password',
  '*.token',
  '*.secret',
];

/**
 * The process logger. Known field paths are redacted, and every line is scrubbed of the secret
 * values the configuration holds (and those registered later, such as agent credentials).
 */
export function createLogger(config: Config, destination?: DestinationStream): Logger {
  for (const key of SECRET_KEYS) {
    const value = config[key];
    for (const item of Array.isArray(value) ? value : [value]) {
      if (typeof item === 'string') registerUrlSecret(item);
    }
  }
  const options = {
    level: config.LOG_LEVEL,
    base: { service: 'supervisor' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    hooks: { streamWrite: scrubSecrets },
  };
  if (destination) return pino(options, destination);
  return pino({
    ...options,
    // Pretty on a terminal (development), JSON lines wherever logs are collected.
    ...((config.LOG_PRETTY ?? process.stdout.isTTY)
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } }
      : {}),
  });
}
