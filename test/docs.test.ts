import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../src/config/schema.ts';
import { ERROR_CATALOGUE } from '../src/core/errors.ts';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

/** The docs describe the code; these checks fail the build when the two drift apart. */
describe('documentation stays in step with the code', () => {
  const keys = Object.keys(configSchema.shape);

  it('.env.sample documents every setting and nothing else', () => {
    const documented = [...read('.env.sample').matchAll(/^# ([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]);
    expect(new Set(documented)).toEqual(new Set(keys));
  });

  it('the README configuration table lists every setting with its default', () => {
    const readme = read('README.md');
    const rows = new Map(
      [...readme.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \| ([^|]+) \|/gm)].map((m) => [m[1], m[2]!.trim()]),
    );
    expect(new Set(rows.keys())).toEqual(new Set(keys));
    for (const key of keys) {
      const fallback = configSchema.shape[key as keyof typeof configSchema.shape].safeParse(undefined);
      const value = fallback.success ? fallback.data : undefined;
      const expected =
        value === undefined
          ? 'unset'
          : Array.isArray(value)
            ? value.length === 0
              ? 'empty'
              : 'see `.env.sample`'
            : `\`${String(value)}\``;
      expect(rows.get(key), key).toBe(expected);
    }
  });

  it('docs/errors.md has a row for every error code, with its status and fix', () => {
    const doc = read('docs/errors.md');
    for (const [code, { status, fix }] of Object.entries(ERROR_CATALOGUE)) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
      expect(row, code).toBeDefined();
      expect(row).toContain(`| ${status} |`);
      expect(row).toContain(fix);
    }
    const documented = [...doc.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(new Set(documented)).toEqual(new Set(Object.keys(ERROR_CATALOGUE)));
  });

  it('the quick start is the two commands CI runs', () => {
    const quickStart = read('README.md').split('## Quick start')[1]!.split('```sh')[1]!.split('```')[0]!;
    expect(
      quickStart
        .trim()
        .split('\n')
        .map((line) => line.split('#')[0]!.trim()),
    ).toEqual(['npm start', 'npm test']);
    expect(read('.ci/run')).toMatch(/\nnpm test\n/);
  });
});
