import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readInside } from '../state-files.ts';
import { GEMINI_HOME } from './command.ts';

/**
 * Where the Gemini CLI keeps a session: `<GEMINI_CLI_HOME>/.gemini/tmp/<project>/chats/session-….jsonl`,
 * whose first line names the session (`{"sessionId": …}`), with `<project>` named after the working
 * directory. `--session-file <file>` continues it from any directory, as a new session holding the
 * whole conversation. A resumed session writes more than one file of its id (an import of the one
 * it continued, and its own); the largest holds the most of it. Nothing is read through a link:
 * the agent's user owns these directories.
 */
export function geminiChat(stateDir: string, sessionId: string): string | undefined {
  const tmp = join(stateDir, GEMINI_HOME, '.gemini', 'tmp');
  let best: { file: string; size: number } | undefined;
  for (const project of entries(tmp)) {
    const chats = join(tmp, project, 'chats');
    for (const name of entries(chats).filter((entry) => entry.endsWith('.jsonl'))) {
      const file = join(chats, name);
      if (firstLineSession(stateDir, file) !== sessionId) continue;
      const size = lstatSync(file).size;
      if (!best || size > best.size) best = { file, size };
    }
  }
  return best?.file;
}

/** The names in a directory that is really one (not a link), or none. */
function entries(dir: string): string[] {
  if (!existsSync(dir) || lstatSync(dir).isSymbolicLink()) return [];
  return readdirSync(dir).filter((name) => !lstatSync(join(dir, name)).isSymbolicLink());
}

function firstLineSession(root: string, file: string): string | undefined {
  const head = readInside(root, file, 4096);
  if (!head) return undefined;
  try {
    return (JSON.parse(head.toString('utf8').split('\n')[0] ?? '') as { sessionId?: string }).sessionId;
  } catch {
    return undefined;
  }
}
