import type { Queryable } from '../store/database.ts';
import { markStale, stalenessCandidates } from './memory-store.ts';

/**
 * Marks a repository's entries stale once the files they cite have changed. A task about to run
 * at `head` asks git, once per distinct commit the entries describe, which files changed from
 * there to `head`; an entry citing one of them is stale from now on (kept, flagged, left out of
 * prompts). `changedSince` answers undefined when it cannot tell (an unknown or newer commit).
 */
export async function markStaleEntries(
  q: Queryable,
  input: {
    repository: string;
    head: string;
    changedSince: (commit: string) => Promise<string[] | undefined>;
    now: Date;
  },
): Promise<number> {
  const candidates = (await stalenessCandidates(q, input.repository)).filter((e) => e.commit !== input.head);
  const changedByCommit = new Map<string, Set<string> | undefined>();
  let marked = 0;
  for (const entry of candidates) {
    const commit = entry.commit!;
    if (!changedByCommit.has(commit)) {
      const changed = await input.changedSince(commit);
      changedByCommit.set(commit, changed ? new Set(changed) : undefined);
    }
    const changed = changedByCommit.get(commit);
    const hit = changed ? entry.paths.filter((path) => changed.has(path)) : [];
    if (hit.length === 0) continue;
    await markStale(
      q,
      entry.id,
      `${hit.join(', ')} changed between ${commit.slice(0, 12)} and ${input.head.slice(0, 12)}`,
      input.now,
    );
    marked++;
  }
  return marked;
}
