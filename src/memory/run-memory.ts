import type { Logger } from 'pino';
import type { TaskTokens } from '../auth/task-token.ts';
import type { TaskPayload } from '../core/task-types.ts';
import type { Queryable } from '../store/database.ts';
import type { TaskRow } from '../store/schema.ts';
import { memoryForTask } from './memory-store.ts';
import { memorySection, selectWithinBudget } from './prompt-memory.ts';
import { markStaleEntries } from './staleness.ts';

/**
 * Project memory around one attempt: before the agent starts, entries whose files changed are
 * marked stale, the most relevant current ones go into the prompt (within the token budget), and
 * the agent gets the memory tools over MCP (the API's endpoint, or `supervisor mcp`) with a token
 * scoped to the task's repository. After a success, the lifecycle saves what the task found (see task-memory.ts).
 */
export interface RunMemoryDeps {
  db: Queryable;
  tokens: TaskTokens;
  /** Token budget for memory in a prompt; 0 leaves memory out of prompts. */
  promptTokens: number;
  /** Where agents reach the API; undefined (a worker without AGENT_API_URL) means no memory tools. */
  apiUrl: () => string | undefined;
  /** How agents reach the tools: the API's MCP endpoint, or a `supervisor mcp` process per run. */
  tools: 'http' | 'stdio';
  /** How to start the stdio server: this program's `mcp` command, and settings for its process. */
  mcpServer: { command: string; args: string[]; env: Record<string, string> };
  logger: Logger;
  now: () => Date;
}

/** What an attempt gets: the prompt section, and the MCP configuration with the secret it holds. */
export interface AttemptMemory {
  section?: string;
  mcp?: { config: object; secrets: string[] };
}

/** Entries considered for a prompt before the budget trims them. */
const PROMPT_CANDIDATES = 50;
/** A task token outlives its attempt's time limit by this much, then nothing can use it. */
const TOKEN_GRACE_MS = 5 * 60_000;

export class RunMemory {
  readonly #deps: RunMemoryDeps;

  constructor(deps: RunMemoryDeps) {
    this.#deps = deps;
  }

  async forAttempt(input: {
    task: TaskRow;
    attemptId: string;
    /** The commit the checkout is at; undefined without a checkout. */
    commit: string | undefined;
    /**
     * Whether the checkout is the default branch's tip (the task named no ref). Staleness is judged
     * there only: a PR head or an old tag would mark entries stale, or verified, off the main line.
     */
    onDefaultBranch: boolean;
    changedSince: (commit: string) => Promise<string[] | undefined>;
    nonce: string;
    wallClockMs: number;
  }): Promise<AttemptMemory> {
    const { task, commit } = input;
    const now = this.#deps.now();
    if (commit && input.onDefaultBranch) {
      const marked = await markStaleEntries(this.#deps.db, {
        repository: task.repository,
        head: commit,
        changedSince: input.changedSince,
        now,
      }).catch((error: unknown) => {
        // Staleness is advisory: a git hiccup must not fail the task.
        this.#deps.logger.warn({ err: error, taskId: task.id }, 'could not check memory for staleness');
        return 0;
      });
      if (marked) this.#deps.logger.info({ taskId: task.id, marked }, 'memory entries marked stale');
    }
    const entries =
      this.#deps.promptTokens > 0
        ? selectWithinBudget(
            await memoryForTask(this.#deps.db, task.repository, taskWords(task.payload), PROMPT_CANDIDATES),
            this.#deps.promptTokens,
          )
        : [];
    const apiUrl = this.#deps.apiUrl();
    const section = memorySection(entries, { nonce: input.nonce, toolsAvailable: apiUrl !== undefined });
    if (!apiUrl) return section ? { section } : {};
    const token = this.#deps.tokens.issue(
      { taskId: task.id, attemptId: input.attemptId, repository: task.repository, commit: commit ?? null },
      new Date(now.getTime() + input.wallClockMs + TOKEN_GRACE_MS),
    );
    const server =
      this.#deps.tools === 'http'
        ? { type: 'http', url: `${apiUrl}/api/v1/mcp`, headers: { Authorization: `Bearer ${token}` } }
        : {
            type: 'stdio',
            command: this.#deps.mcpServer.command,
            args: this.#deps.mcpServer.args,
            env: { ...this.#deps.mcpServer.env, SUPERVISOR_URL: apiUrl, SUPERVISOR_TOKEN: token },
          };
    const config = { mcpServers: { supervisor: server } };
    return { ...(section ? { section } : {}), mcp: { config, secrets: [token] } };
  }
}

/** The words of a task that say what it is about: what memory is searched with. */
export function taskWords(payload: TaskPayload): string {
  const p = payload as Record<string, unknown>;
  const parts = [p.title, p.description, p.body, p.focus, p.paths, p.acceptance_criteria];
  return parts
    .flat()
    .filter((part): part is string => typeof part === 'string')
    .join(' ')
    .replace(/[/._-]/g, ' ')
    .slice(0, 4000);
}
