import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../src/agents/secrets.ts';
import { rotateSecrets } from '../src/cli/commands/secrets.ts';
import { loadConfig } from '../src/config/load.ts';
import { Supervisor } from '../src/runtime/supervisor.ts';
import { openDatabase } from '../src/store/database.ts';
import { agents } from '../src/store/schema.ts';

const API_KEY = `sk-ant-api03-${'k'.repeat(40)}`;

describe('supervisor secrets rotate', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'secrets-rotate-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  const env = { DATA_DIR: dataDir, CLAUDE_API_KEYS: API_KEY, LOG_LEVEL: 'silent' };

  const sealed = async () => {
    const database = await openDatabase({ kind: 'pglite', dataDir: join(dataDir, 'pglite') });
    try {
      return (await database.db.select().from(agents)).map((row) => row.credentialSecret);
    } finally {
      await database.close();
    }
  };

  it('re-seals every stored credential with a new key file, and refuses a key that does not open them', async () => {
    const supervisor = await Supervisor.start({
      config: loadConfig({ env }),
      logger: pino({ level: 'silent' }),
      listen: false,
      worker: false,
      showAdminToken: () => {},
    });
    await supervisor.stop();
    const keyFile = join(dataDir, 'secrets.key');
    const oldKey = readFileSync(keyFile, 'utf8').trim();
    const [before] = await sealed();
    expect(JSON.parse(new SecretBox(oldKey).open(before!))).toMatchObject({ value: API_KEY });

    const lines: string[] = [];
    await rotateSecrets(loadConfig({ env }), {}, (line) => lines.push(line));
    const newKey = readFileSync(keyFile, 'utf8').trim();
    expect(newKey).not.toBe(oldKey);
    const [after] = await sealed();
    expect(JSON.parse(new SecretBox(newKey).open(after!))).toMatchObject({ value: API_KEY });
    expect(() => new SecretBox(oldKey).open(after!)).toThrow('SECRETS_KEY differs');
    expect(lines.join('\n')).toContain('re-sealed 1 credential(s)');
    expect(lines.join('\n')).not.toContain(newKey);

    // A wrong current key changes nothing and says which agent it could not open.
    const wrong = loadConfig({ env: { ...env, SECRETS_KEY: 'not the key these were sealed with' } });
    await expect(
      rotateSecrets(wrong, { NEW_SECRETS_KEY: 'another key, long enough' }, () => {}),
    ).rejects.toThrow('the credential of agent claude-1 does not open with the current key');
    expect(await sealed()).toEqual([after]);

    // Moving to a configured SECRETS_KEY: the operator supplies the new key and then sets it.
    const moved: string[] = [];
    await rotateSecrets(loadConfig({ env }), { NEW_SECRETS_KEY: 'the production key, long enough' }, (line) =>
      moved.push(line),
    );
    expect(moved.join('\n')).toContain('now set SECRETS_KEY');
    const [final] = await sealed();
    expect(JSON.parse(new SecretBox('the production key, long enough').open(final!))).toMatchObject({
      value: API_KEY,
    });
  });
});
