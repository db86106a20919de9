import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TokenUsage } from '../../core/outcome.ts';

/**
 * Where Codex keeps a thread: `<CODEX_HOME>/sessions/YYYY/MM/DD/rollout-<ts>-<thread id>.jsonl`,
 * with its index in CODEX_HOME's databases. `exec resume <thread id>` finds it there, so an
 * attempt resumes in a worktree of its own once the earlier attempt's CODEX_HOME is copied into
 * its own. Beside it the supervisor keeps the thread's token totals, which Codex reports
 * cumulatively: the next run's use is its totals minus these.
 */

export const CODEX_HOME = 'codex';
const USAGE_FILE = 'codex-usage.json';

export function codexThreadExists(stateDir: string, threadId: string): boolean {
  const sessions = join(stateDir, CODEX_HOME, 'sessions');
  if (!existsSync(sessions)) return false;
  return readdirSync(sessions, { recursive: true, encoding: 'utf8' }).some(
    (name) => name.endsWith(`-${threadId}.jsonl`) && name.split('/').at(-1)!.startsWith('rollout-'),
  );
}

/** Copies an attempt's CODEX_HOME into another's, but for its config and temporary files. */
export function copyCodexHome(fromStateDir: string, toStateDir: string): void {
  const from = join(fromStateDir, CODEX_HOME);
  if (!existsSync(from)) return;
  for (const entry of readdirSync(from)) {
    if (entry === 'tmp' || entry === 'config.toml') continue;
    cpSync(join(from, entry), join(toStateDir, CODEX_HOME, entry), { recursive: true });
  }
}

/** Created exclusively: the directory may belong to the agent's user, who could plant a symlink. */
export function writeThreadUsage(stateDir: string, usage: TokenUsage): void {
  const file = join(stateDir, USAGE_FILE);
  rmSync(file, { force: true });
  writeFileSync(file, JSON.stringify(usage), { flag: 'wx' });
}

export function readThreadUsage(stateDir: string): TokenUsage | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir, USAGE_FILE), 'utf8')) as TokenUsage;
  } catch {
    return undefined;
  }
}
