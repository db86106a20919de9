import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const run = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Test',
      GIT_AUTHOR_EMAIL: 't@t',
      GIT_COMMITTER_NAME: 'Test',
      GIT_COMMITTER_EMAIL: 't@t',
    },
  }).trim();

/** A real git repository with one commit on `main`, for tasks to check out. */
export function createSourceRepo(files: Record<string, string>): {
  path: string;
  head: string;
  git: (...args: string[]) => string;
} {
  const path = mkdtempSync(join(tmpdir(), 'source-repo-'));
  run(path, 'init', '--quiet', '--initial-branch', 'main');
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(dirname(join(path, file)), { recursive: true });
    writeFileSync(join(path, file), content);
  }
  run(path, 'add', '-A');
  run(path, 'commit', '--quiet', '-m', 'initial');
  return { path, head: run(path, 'rev-parse', 'HEAD'), git: (...args) => run(path, ...args) };
}

/** Files of a repository whose `npm test` leaves a process behind in a session of its own. */
export const LEAVES_A_DAEMON = {
  'package.json': JSON.stringify({ scripts: { test: 'setsid -f sleep 600' } }),
};
