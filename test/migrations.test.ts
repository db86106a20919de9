import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/processes.ts';

describe('migrations', () => {
  it('match the Drizzle schema (run `npm run db:generate` after changing src/store/schema.ts)', () => {
    const out = mkdtempSync(join(tmpdir(), 'migrations-'));
    try {
      cpSync(join(REPO_ROOT, 'src/store/migrations'), out, { recursive: true });
      const before = readdirSync(out).sort();
      // drizzle-kit prefixes `./` to --out and exits 0 even on errors, so pass a relative path and read its output.
      const output = execFileSync(
        join(REPO_ROOT, 'node_modules/.bin/drizzle-kit'),
        [
          'generate',
          '--dialect',
          'postgresql',
          '--schema',
          'src/store/schema.ts',
          '--out',
          relative(REPO_ROOT, out),
        ],
        { cwd: REPO_ROOT, stdio: 'pipe', timeout: 60_000, encoding: 'utf8' },
      );
      expect(output).toContain('No schema changes');
      expect(readdirSync(out).sort()).toEqual(before);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
