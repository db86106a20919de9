import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { copyWithoutLinks } from '../state-files.ts';

/**
 * Where Codex keeps a thread: `<CODEX_HOME>/sessions/YYYY/MM/DD/rollout-<ts>-<thread id>.jsonl`,
 * with its index in CODEX_HOME's databases. `exec resume <thread id>` finds it there, so an
 * attempt resumes in a worktree of its own once the earlier attempt's CODEX_HOME is copied into
 * its own.
 */

export const CODEX_HOME = 'codex';

export function codexThreadExists(stateDir: string, threadId: string): boolean {
  const sessions = join(stateDir, CODEX_HOME, 'sessions');
  if (!existsSync(sessions) || lstatSync(sessions).isSymbolicLink()) return false;
  return readdirSync(sessions, { recursive: true, encoding: 'utf8' }).some(
    (name) => name.endsWith(`-${threadId}.jsonl`) && name.split('/').at(-1)!.startsWith('rollout-'),
  );
}

/** Copies an attempt's CODEX_HOME into another's, but for its config, temporary files and any link. */
export function copyCodexHome(fromStateDir: string, toStateDir: string): void {
  copyWithoutLinks(
    join(fromStateDir, CODEX_HOME),
    join(toStateDir, CODEX_HOME),
    (name) => name === 'tmp' || name === 'config.toml',
  );
}
