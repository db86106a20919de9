import { cpSync, existsSync, lstatSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

/**
 * Files the supervisor (possibly root) handles in an attempt's state directory once the agent's
 * user (AGENT_USER) owns it: any directory there may have been swapped for a symbolic link, so
 * nothing is removed or copied through one.
 */

/** Whether `path` lies inside `root` with no symbolic link in the directories from `root` to it. */
export function noLinksBetween(root: string, path: string): boolean {
  const rest = relative(root, dirname(path));
  if (rest.startsWith('..')) return false;
  let at = root;
  for (const part of rest ? rest.split(sep) : []) {
    at = join(at, part);
    try {
      if (lstatSync(at).isSymbolicLink()) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** Removes a file of the state directory, unless a link stands in the way. */
export function removeStateFile(root: string, path: string): void {
  if (noLinksBetween(root, path)) rmSync(path, { force: true });
}

/**
 * Copies a directory of an earlier attempt's state into this attempt's, leaving out every symbolic
 * link (so a link planted there never makes the supervisor read what it points at) and the entries
 * `skip` names at the top.
 */
export function copyWithoutLinks(
  from: string,
  to: string,
  skip: (name: string) => boolean = () => false,
): void {
  if (!existsSync(from) || lstatSync(from).isSymbolicLink()) return;
  for (const entry of readdirSync(from)) {
    if (skip(entry)) continue;
    cpSync(join(from, entry), join(to, entry), {
      recursive: true,
      filter: (source) => !lstatSync(source).isSymbolicLink(),
    });
  }
}
