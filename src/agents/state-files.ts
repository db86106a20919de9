import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  realpathSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

/**
 * Files the supervisor (possibly root) handles in an attempt's state directory once the agent's
 * user (AGENT_USER) owns it: any entry there may have been swapped for a symbolic link, a named
 * pipe or a directory, even between a check and its use. So a file is read only through a
 * descriptor opened without following a link or blocking, that is a regular file, and whose real
 * path lies inside the directory it was read from; nothing is removed through a link.
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

/** Removes a file of the state directory, unless a link stands in the way or it is not a file. */
export function removeStateFile(root: string, path: string): void {
  try {
    if (noLinksBetween(root, path) && lstatSync(path).isFile()) unlinkSync(path);
  } catch {
    // gone already, or not ours to remove: the sweeper removes the whole directory later
  }
}

/**
 * The content of a regular file inside `root`, read through one descriptor (see above); undefined
 * for anything else. `limit` bounds how much is read.
 */
export function readInside(root: string, path: string, limit = Number.POSITIVE_INFINITY): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const real = readlinkSync(`/proc/self/fd/${fd}`);
    if (!real.startsWith(realpathSync(root) + sep)) return undefined;
    if (Number.isFinite(limit)) {
      const buffer = Buffer.alloc(limit);
      let read = 0;
      let n = 0;
      do {
        n = readSync(fd, buffer, read, limit - read, read);
        read += n;
      } while (n > 0 && read < limit);
      return buffer.subarray(0, read);
    }
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Copies a directory of an earlier attempt's state into this attempt's (a fresh directory of the
 * supervisor's), file by file through `readInside`, leaving out links, pipes and the entries
 * `skip` names at the top.
 */
export function copyWithoutLinks(
  from: string,
  to: string,
  skip: (name: string) => boolean = () => false,
): void {
  copyTree(from, from, to, skip);
}

function copyTree(root: string, from: string, to: string, skip: (name: string) => boolean): void {
  if (!existsSync(from) || lstatSync(from).isSymbolicLink() || !lstatSync(from).isDirectory()) return;
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from)) {
    if (skip(entry)) continue;
    const source = join(from, entry);
    const stat = lstatSync(source, { throwIfNoEntry: false });
    if (stat?.isDirectory()) copyTree(root, source, join(to, entry), () => false);
    else if (stat?.isFile()) {
      const content = readInside(root, source);
      if (content) writeFileSync(join(to, entry), content);
    }
  }
}
