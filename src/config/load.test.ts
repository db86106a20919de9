import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, describeConfig, loadConfig } from './load.ts';

const load = (env: Record<string, string>, envFile?: string) => loadConfig({ env, envFile });

describe('loadConfig', () => {
  it('applies defaults', () => {
    const config = load({});
    expect(config.PORT).toBe(8000);
    expect(config.DATA_DIR).toBe('./data');
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.CLAUDE_API_KEYS).toEqual([]);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('parses numbers, lists and flags', () => {
    const config = load({
      PORT: '9001',
      CLAUDE_API_KEYS: ' a , b,,c ',
      LOG_PRETTY: 'true',
      WORKER_CONCURRENCY: '8',
    });
    expect(config).toMatchObject({
      PORT: 9001,
      CLAUDE_API_KEYS: ['a', 'b', 'c'],
      LOG_PRETTY: true,
      WORKER_CONCURRENCY: 8,
    });
  });

  it('reports one line per bad variable, naming it and the expected form', () => {
    let error: unknown;
    try {
      load({ PORT: 'eighty', LOG_LEVEL: 'loud', WORKER_CONCURRENCY: '0' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(3);
    expect(problems).toContain('PORT: expected an integer between 0 and 65535; got "eighty"');
    expect(problems.find((line) => line.startsWith('LOG_LEVEL:'))).toContain('expected one of fatal, error');
    expect(problems.find((line) => line.startsWith('WORKER_CONCURRENCY:'))).toContain('between 1 and 256');
  });

  it('never prints a secret value', () => {
    const secret = 'mysql://root:hunter2@db';
    expect(() => load({ DATABASE_URL: secret })).toThrowError(
      /DATABASE_URL: expected a URL .*\(value hidden\)/,
    );
    try {
      load({ DATABASE_URL: secret });
    } catch (error) {
      expect(String((error as Error).message)).not.toContain('hunter2');
    }
  });

  it('reads .env, and the environment wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-'));
    const file = join(dir, '.env');
    writeFileSync(file, 'PORT=9100\nLOG_LEVEL=debug\n# a comment\nHOST=\n');
    const config = load({ LOG_LEVEL: 'warn' }, file);
    expect(config).toMatchObject({ PORT: 9100, LOG_LEVEL: 'warn', HOST: '127.0.0.1' });
  });

  it('describes itself without secrets', () => {
    const shown = describeConfig(load({ CLAUDE_API_KEYS: 'sk-secret', DATABASE_URL: 'postgres://u:p@h/db' }));
    expect(shown.CLAUDE_API_KEYS).toBe('set');
    expect(shown.DATABASE_URL).toBe('set');
    expect(shown.SLACK_BOT_TOKEN).toBe('unset');
    expect(JSON.stringify(shown)).not.toContain('sk-secret');
  });
});
