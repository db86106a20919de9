import { z } from 'zod';
import { TASK_OUTCOMES } from '../core/outcome.ts';
import { TASK_STATUSES } from '../core/task-status.ts';
import { TASK_TYPES } from '../core/task-types.ts';
import type { TaskRow } from '../store/schema.ts';
import { MEMORY_KINDS } from './memory-kinds.ts';
import type { MemoryEntry } from './memory-store.ts';

/** How memory is shown outside: the API's responses (and OpenAPI) and the MCP tools' answers. */

const iso = (value: Date | null) => (value ? value.toISOString() : null);

export const entrySchema = z
  .object({
    id: z.uuid(),
    repository: z.string().nullable().describe('null: a global entry every task sees'),
    kind: z.enum(MEMORY_KINDS),
    title: z.string(),
    content: z.string(),
    paths: z.array(z.string()).describe('Files the entry is about; a later change to one makes it stale'),
    commit: z.string().nullable().describe('The commit the entry describes'),
    task_id: z.uuid().nullable().describe('The task that wrote it (provenance)'),
    created_by: z.string(),
    created_at: z.string(),
    stale: z.boolean().describe('A cited file changed at a later commit: kept, but left out of prompts'),
    stale_reason: z.string().nullable(),
    stale_at: z.string().nullable(),
  })
  .meta({ id: 'MemoryEntry' });

export function entryView(entry: MemoryEntry): z.infer<typeof entrySchema> {
  return {
    id: entry.id,
    repository: entry.repository,
    kind: entry.kind,
    title: entry.title,
    content: entry.content,
    paths: entry.paths,
    commit: entry.commit,
    task_id: entry.taskId,
    created_by: entry.createdBy,
    created_at: entry.createdAt.toISOString(),
    stale: entry.staleAt !== null,
    stale_reason: entry.staleReason,
    stale_at: iso(entry.staleAt),
  };
}

export const historySchema = z
  .object({
    task_id: z.uuid(),
    type: z.enum(TASK_TYPES),
    status: z.enum(TASK_STATUSES),
    outcome: z.enum(TASK_OUTCOMES).nullable(),
    summary: z.string().nullable().describe("The start of the task's result text, or its error"),
    created_at: z.string(),
    finished_at: z.string().nullable(),
  })
  .meta({ id: 'RepositoryHistoryItem' });

const SUMMARY_CHARS = 500;

export type MemoryEntryView = z.infer<typeof entrySchema>;
export type HistoryItemView = z.infer<typeof historySchema>;

export function historyView(task: TaskRow): HistoryItemView {
  return {
    task_id: task.id,
    type: task.type,
    status: task.status,
    outcome: task.outcome,
    summary: (task.resultText ?? task.error)?.slice(0, SUMMARY_CHARS) ?? null,
    created_at: task.createdAt.toISOString(),
    finished_at: iso(task.finishedAt),
  };
}
