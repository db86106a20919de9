import { randomUUID } from 'node:crypto';
import { and, desc, eq, getTableColumns, inArray, isNotNull, isNull, or, type SQL, sql } from 'drizzle-orm';
import type { Queryable } from '../store/database.ts';
import { type MemoryEntryRow, memoryEntries, type TaskRow, tasks } from '../store/schema.ts';
import { storable } from '../store/storable.ts';
import type { MemoryKind } from './memory-kinds.ts';
import { memoryFromTask } from './task-memory.ts';

/** Project memory in the database: entries with provenance, full-text search, staleness. */

export type MemoryEntry = Omit<MemoryEntryRow, 'search'>;

export interface NewMemoryEntry {
  repository: string | null;
  kind: MemoryKind;
  title: string;
  content: string;
  paths: string[];
  commit: string | null;
  taskId: string | null;
  createdBy: string;
  createdAt: Date;
}

export interface MemoryFilter {
  /** One repository's entries; with `withGlobal`, the global ones too. Unset: every entry. */
  repository?: string;
  withGlobal?: boolean;
  /** Only global entries. */
  globalOnly?: boolean;
  kind?: MemoryKind;
  /** Words to look for: entries matching more of them rank first; only matching ones are returned. */
  text?: string;
  /** true: only stale entries; false: only current ones; unset: both. */
  stale?: boolean;
}

/** The search vector is for the database; it is never read back. */
const { search: _search, ...entryColumns } = getTableColumns(memoryEntries);

export async function insertMemory(q: Queryable, entry: NewMemoryEntry): Promise<MemoryEntry> {
  const [row] = await q
    .insert(memoryEntries)
    .values(storable({ id: randomUUID(), ...entry }))
    .returning(entryColumns);
  return row!;
}

/**
 * What a task left in memory replaces what an earlier run of the same task left (a task retried
 * after success), so one task never counts twice.
 */
export async function replaceTaskMemory(q: Queryable, entry: NewMemoryEntry & { taskId: string }) {
  await q
    .delete(memoryEntries)
    .where(and(eq(memoryEntries.taskId, entry.taskId), eq(memoryEntries.createdBy, entry.createdBy)));
  return insertMemory(q, entry);
}

export async function getMemory(q: Queryable, id: string): Promise<MemoryEntry | undefined> {
  const [row] = await q.select(entryColumns).from(memoryEntries).where(eq(memoryEntries.id, id));
  return row;
}

export async function deleteMemory(q: Queryable, id: string): Promise<boolean> {
  const rows = await q
    .delete(memoryEntries)
    .where(eq(memoryEntries.id, id))
    .returning({ id: memoryEntries.id });
  return rows.length > 0;
}

/**
 * Entries matching `filter`, most relevant first when there is text to match (then newest), else
 * newest first. `offset` pages through a ranked listing, which has no stable key to seek from.
 */
export async function searchMemory(
  q: Queryable,
  filter: MemoryFilter,
  page: { limit: number; offset: number },
): Promise<MemoryEntry[]> {
  const query = filter.text ? anyWordQuery(filter.text) : undefined;
  if (filter.text && !query) return [];
  const tsquery = query ? sql`to_tsquery('english', ${query})` : undefined;
  const conditions: Array<SQL | undefined> = [
    scopeCondition(filter),
    filter.kind ? eq(memoryEntries.kind, filter.kind) : undefined,
    filter.stale === true ? isNotNull(memoryEntries.staleAt) : undefined,
    filter.stale === false ? isNull(memoryEntries.staleAt) : undefined,
    tsquery ? sql`${memoryEntries.search} @@ ${tsquery}` : undefined,
  ];
  return q
    .select(entryColumns)
    .from(memoryEntries)
    .where(and(...conditions))
    .orderBy(
      ...(tsquery ? [desc(sql`ts_rank(${memoryEntries.search}, ${tsquery})`)] : []),
      desc(memoryEntries.createdAt),
      desc(memoryEntries.id),
    )
    .limit(page.limit)
    .offset(page.offset);
}

/**
 * Current entries for a task's prompt: those matching the task's words first (best first), then
 * the newest of the rest, so a repository's memory reaches a task even when no word matches.
 */
export async function memoryForTask(
  q: Queryable,
  repository: string,
  taskText: string,
  limit: number,
): Promise<MemoryEntry[]> {
  const query = anyWordQuery(taskText);
  const tsquery = query ? sql`to_tsquery('english', ${query})` : sql`''::tsquery`;
  return q
    .select(entryColumns)
    .from(memoryEntries)
    .where(and(scopeCondition({ repository, withGlobal: true }), isNull(memoryEntries.staleAt)))
    .orderBy(
      desc(sql`${memoryEntries.search} @@ ${tsquery}`),
      desc(sql`ts_rank(${memoryEntries.search}, ${tsquery})`),
      desc(memoryEntries.createdAt),
      desc(memoryEntries.id),
    )
    .limit(limit);
}

/** A repository's current entries that cite files at a known commit: the ones a commit can make stale. */
export async function stalenessCandidates(q: Queryable, repository: string): Promise<MemoryEntry[]> {
  return q
    .select(entryColumns)
    .from(memoryEntries)
    .where(
      and(
        eq(memoryEntries.repository, repository),
        isNull(memoryEntries.staleAt),
        isNotNull(memoryEntries.commit),
        sql`cardinality(${memoryEntries.paths}) > 0`,
      ),
    );
}

/** Records that these entries' files were unchanged up to `commit` (see `verifiedCommit`). */
export async function markVerified(q: Queryable, ids: string[], commit: string): Promise<void> {
  if (ids.length === 0) return;
  await q
    .update(memoryEntries)
    .set({ verifiedCommit: commit })
    .where(and(inArray(memoryEntries.id, ids), isNull(memoryEntries.staleAt)));
}

export async function markStale(q: Queryable, id: string, reason: string, at: Date): Promise<void> {
  await q
    .update(memoryEntries)
    .set({ staleAt: at, staleReason: reason })
    .where(and(eq(memoryEntries.id, id), isNull(memoryEntries.staleAt)));
}

/** Which tasks ran on a repository, newest first: the session history agents can look at. */
export async function repositoryHistory(q: Queryable, repository: string, limit: number): Promise<TaskRow[]> {
  return q
    .select()
    .from(tasks)
    .where(eq(tasks.repository, repository))
    .orderBy(desc(tasks.createdAt), desc(tasks.id))
    .limit(limit);
}

function scopeCondition(filter: MemoryFilter): SQL | undefined {
  if (filter.globalOnly) return isNull(memoryEntries.repository);
  if (filter.repository === undefined) return undefined;
  const own = eq(memoryEntries.repository, filter.repository);
  return filter.withGlobal ? or(own, isNull(memoryEntries.repository)) : own;
}

/**
 * A tsquery matching any of the text's words (`a | b | c`), or undefined if it has none. Built
 * from plain words only, so no user text can break the query syntax.
 */
export function anyWordQuery(text: string): string | undefined {
  const words = [...new Set((text.toLowerCase().match(/[a-z0-9]{2,40}/g) ?? []).slice(0, 64))];
  return words.length ? words.join(' | ') : undefined;
}

/** Saves what a task that just succeeded found, with its provenance (in the task's transaction). */
export async function rememberTask(q: Queryable, task: TaskRow, commit: string | undefined, now: Date) {
  const draft = memoryFromTask(task);
  if (!draft) return;
  await replaceTaskMemory(q, {
    ...draft,
    repository: task.repository,
    commit: draft.commit ?? commit ?? null,
    taskId: task.id,
    createdBy: 'supervisor',
    createdAt: now,
  });
}
