import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { ApiClient } from '../cli/api-client.ts';
import { VERSION } from '../runtime/version.ts';

/**
 * The MCP server an agent gets for project memory (`supervisor mcp`). Its tools call the
 * supervisor's memory API with the task token the worker issued, so the server itself holds no
 * state and no rights beyond that token: its task's repository, while the task runs.
 */

/** The entry fields the tools show; the API's MemoryEntry. */
interface Entry {
  id: string;
  repository: string | null;
  kind: string;
  title: string;
  content: string;
  paths: string[];
  commit: string | null;
  task_id: string | null;
  created_by: string;
  created_at: string;
  stale: boolean;
  stale_reason: string | null;
}

interface HistoryItem {
  task_id: string;
  type: string;
  status: string;
  outcome: string | null;
  summary: string | null;
  created_at: string;
}

/** Search results show the start of each entry; memory_read gives the whole of one. */
const PREVIEW_CHARS = 1200;

export function createMemoryServer(api: ApiClient): McpServer {
  const server = new McpServer({ name: 'supervisor', version: VERSION });

  server.registerTool(
    'memory_search',
    {
      description:
        "Search this repository's project memory: findings, summaries and notes earlier tasks saved, with the task and commit they came from. Most relevant first; without a query, newest first.",
      inputSchema: {
        query: z.string().max(500).optional().describe('Words to look for (any of them)'),
        include_stale: z
          .boolean()
          .optional()
          .describe('Also entries whose cited files changed since they were written'),
        limit: z.number().int().min(1).max(20).optional(),
      },
    },
    ({ query, include_stale, limit }) =>
      answer(async () => {
        const params = new URLSearchParams({ limit: String(limit ?? 8) });
        if (query?.trim()) params.set('q', query);
        if (!include_stale) params.set('stale', 'false');
        const page = await api.request<{ items: Entry[] }>('GET', `/api/v1/memory?${params}`);
        if (page.items.length === 0) return 'No memory entries match.';
        return page.items.map((entry) => describe(entry, PREVIEW_CHARS)).join('\n\n');
      }),
  );

  server.registerTool(
    'memory_read',
    {
      description: 'Read one project-memory entry in full, with its provenance.',
      inputSchema: { id: z.uuid().describe('The id memory_search showed') },
    },
    ({ id }) =>
      answer(async () =>
        describe(await api.request<Entry>('GET', `/api/v1/memory/${encodeURIComponent(id)}`), Infinity),
      ),
  );

  server.registerTool(
    'memory_save',
    {
      description:
        "Save a note to this repository's project memory for later tasks: something you learned that is worth not re-learning. Cite the files it is about, so it is marked stale when they change.",
      inputSchema: {
        title: z.string().min(1).max(200),
        content: z.string().min(1).max(8000),
        paths: z
          .array(z.string().min(1).max(1000))
          .max(200)
          .optional()
          .describe('Files, relative to the repository root'),
      },
    },
    ({ title, content, paths }) =>
      answer(async () => {
        const entry = await api.request<Entry>('POST', '/api/v1/memory', {
          body: { kind: 'note', title, content, paths: paths ?? [] },
        });
        return `Saved as memory entry ${entry.id}.`;
      }),
  );

  server.registerTool(
    'task_history',
    {
      description:
        'Which tasks ran on this repository before, newest first, with their outcome and a summary.',
      inputSchema: { limit: z.number().int().min(1).max(50).optional() },
    },
    ({ limit }) =>
      answer(async () => {
        const page = await api.request<{ items: HistoryItem[] }>(
          'GET',
          `/api/v1/memory/history?limit=${limit ?? 10}`,
        );
        if (page.items.length === 0) return 'No tasks ran on this repository before.';
        return page.items
          .map(
            (task) =>
              `${task.created_at} ${task.type} ${task.task_id}: ${task.status}${task.outcome ? ` (${task.outcome})` : ''}${task.summary ? `\n  ${task.summary.replaceAll('\n', ' ')}` : ''}`,
          )
          .join('\n');
      }),
  );

  return server;
}

function describe(entry: Entry, maxChars: number): string {
  const provenance = [
    entry.task_id ? `task ${entry.task_id}` : `by ${entry.created_by}`,
    entry.commit ? `commit ${entry.commit.slice(0, 12)}` : undefined,
    entry.created_at,
    entry.repository === null ? 'global' : undefined,
  ].filter(Boolean);
  const content =
    entry.content.length > maxChars
      ? `${entry.content.slice(0, maxChars)}… (memory_read for the rest)`
      : entry.content;
  return [
    `[${entry.id}] ${entry.kind}: ${entry.title}`,
    `(${provenance.join('; ')})`,
    ...(entry.paths.length ? [`files: ${entry.paths.join(', ')}`] : []),
    ...(entry.stale ? [`STALE: ${entry.stale_reason ?? 'a cited file changed'}`] : []),
    content,
  ].join('\n');
}

/** A tool's text result; an API failure becomes an error result the agent can read, never a crash. */
async function answer(work: () => Promise<string>) {
  try {
    return { content: [{ type: 'text' as const, text: await work() }] };
  } catch (error) {
    return { content: [{ type: 'text' as const, text: (error as Error).message }], isError: true };
  }
}
