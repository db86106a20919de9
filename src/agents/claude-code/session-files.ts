import { existsSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyWithoutLinks, readInside } from '../state-files.ts';

/**
 * Where Claude Code keeps a session: `<CLAUDE_CONFIG_DIR>/projects/<project>/<session id>.jsonl`
 * (and, for some sessions, a `<session id>/` directory beside it), with `<project>` named after the
 * working directory. `--resume <id>` finds the session in any project of the config dir, so an
 * attempt resumes in a worktree of its own once the transcript is copied into its config dir.
 */

export function transcriptExists(configDir: string, sessionId: string): boolean {
  const projects = join(configDir, 'projects');
  if (!existsSync(projects)) return false;
  return readdirSync(projects).some((project) => existsSync(join(projects, project, `${sessionId}.jsonl`)));
}

/**
 * Copies a session's files from one config dir to another; the source is only read, through
 * validated descriptors (the agent's user owns it: state-files.ts).
 */
export function copyTranscript(fromConfigDir: string, toConfigDir: string, sessionId: string): void {
  const projects = join(fromConfigDir, 'projects');
  if (!existsSync(projects) || lstatSync(projects).isSymbolicLink()) return;
  for (const project of readdirSync(projects)) {
    const transcript = join(projects, project, `${sessionId}.jsonl`);
    const content = readInside(fromConfigDir, transcript);
    if (content) {
      mkdirSync(join(toConfigDir, 'projects', project), { recursive: true });
      writeFileSync(join(toConfigDir, 'projects', project, `${sessionId}.jsonl`), content);
    }
    copyWithoutLinks(join(projects, project, sessionId), join(toConfigDir, 'projects', project, sessionId));
  }
}
