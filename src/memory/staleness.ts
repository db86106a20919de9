import type { Queryable } from '../store/database.ts';
import { markStale, markVerified, stalenessCandidates } from './memory-store.ts';

/**
 * Marks a repository's entries stale once the files they cite have changed. A task about to run
 * at `head` asks git which files changed from each entry's last verified commit (at first, the
 * commit it describes) to `head`, once per distinct such commit. An entry citing one of them is
 * stale from now on (kept, flagged, left out of prompts); the others are verified at `head`, so
 * the next check diffs from there and a repository's checks stay few however many commits its
 * entries were written at. `changedSince` answers undefined when it cannot tell (an unknown
 * commit, or one that is not an ancestor of `head`).
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
  const groups = new Map<string, Awaited<ReturnType<typeof stalenessCandidates>>>();
  for (const entry of await stalenessCandidates(q, input.repository)) {
    const from = entry.verifiedCommit ?? entry.commit!;
    if (from === input.head) continue;
    groups.set(from, [...(groups.get(from) ?? []), entry]);
  }
  let marked = 0;
  for (const [from, entries] of groups) {
    const changed = await input.changedSince(from);
    if (!changed) continue;
    const changedSet = new Set(changed);
    const current: string[] = [];
    for (const entry of entries) {
      const hit = entry.paths.filter((path) => changedSet.has(path));
      if (hit.length === 0) {
        current.push(entry.id);
        continue;
      }
      await markStale(
        q,
        entry.id,
        `${hit.join(', ')} changed between ${entry.commit!.slice(0, 12)} and ${input.head.slice(0, 12)}`,
        input.now,
      );
      marked++;
    }
    await markVerified(q, current, input.head);
  }
  return marked;
}
