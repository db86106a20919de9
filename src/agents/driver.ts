import type { AgentCli } from '../core/agent-types.ts';
import type { Evidence, Outcome, TokenUsage } from '../core/outcome.ts';
import type { TaskPayload, TaskType } from '../core/task-types.ts';
import type { Credential } from './claude-code/command.ts';

/** Why an attempt's signal was aborted; drivers map it to their stop cause and the evidence names it. */
export const STOP_REASONS = {
  cancel: 'cancelled on request',
  shutdown: 'supervisor shutting down',
  /** The attempt was recovered elsewhere (its lease was lost): its result could no longer land. */
  lost: 'attempt recovered elsewhere',
} as const;
export type StopReason = (typeof STOP_REASONS)[keyof typeof STOP_REASONS];

/** One event an agent emitted, as the driver understood it. `type` is the agent's own event type. */
export interface AgentEvent {
  type: string;
  data: unknown;
}

/** Who runs an attempt: an agent CLI with one credential and the model it uses. */
export interface AgentIdentity {
  id: string;
  cli: AgentCli;
  model: string;
  credential: Credential;
  /** Model API endpoint (a gateway, or the scripted server in tests); unset means the CLI's default. */
  baseUrl?: string;
}

/** What the agent is told. `text` carries the task; untrusted input inside it is fenced as data. */
export interface BuiltPrompt {
  text: string;
  appendSystemPrompt: string;
  /** JSON schema the final answer must follow (the CLI then ends with `structured_output`). */
  jsonSchema?: object;
}

export interface AttemptLimits {
  wallClockMs: number;
  idleMs: number;
  toolIdleMs: number;
  budgetUsd: number;
  maxTurns: number;
}

/** Everything a driver needs to run one attempt of a task. */
export interface AgentRunRequest {
  taskId: string;
  attemptId: string;
  attemptNumber: number;
  type: TaskType;
  payload: TaskPayload;
  agent: AgentIdentity;
  workspace: { dir: string; readOnly: boolean };
  prompt: BuiltPrompt;
  /**
   * The agent session. `stateDir` is this attempt's own (CLI config, home, tmp); resuming, the
   * session's transcript is taken from `resumeFrom`, the state directory of the attempt that last
   * ran it, which is only read.
   */
  session: { id: string; resume: boolean; stateDir: string; resumeFrom?: string };
  limits: AttemptLimits;
  /**
   * MCP servers the agent gets (the supervisor's memory tools), as an `mcpServers` configuration,
   * and the secrets inside it, to be scrubbed from anything the agent prints.
   */
  mcp?: { config: object; secrets: string[] };
  /** Aborted when the attempt must stop: cancel or shutdown (the reason says which). */
  signal: AbortSignal;
  /** Stores events (and makes them visible live). Resolves once they are persisted. */
  emit(events: AgentEvent[]): Promise<void>;
  /** Called with the agent's process id once it runs (it leads its own process group). */
  onSpawn?(pid: number): void;
  /** Called as the run's use grows (at most a few times a second): it is charged to quota as it happens. */
  onUsage?(used: LiveUsage): void;
  /** People's part in the running attempt: messages for the agent, and tool calls to approve. */
  people?: PeopleChannel;
}

/** A tool call the agent CLI asks permission for. */
export interface ToolCall {
  tool: string;
  input: unknown;
}

/**
 * `byPerson`: a person denied it (or let the time run out), so the agent was told and went on; the
 * run is judged by what it delivered, not by this denial.
 */
export type ToolDecision = { allow: true } | { allow: false; message: string; byPerson?: boolean };

/**
 * What people send an attempt while its agent works (drivers that take input mid-run use it).
 * The worker implements it over the database, so a message or a decision from any API process
 * reaches the worker that runs the agent.
 */
export interface PeopleChannel {
  /**
   * Whether a person may be asked about tool calls (an approval rule applies). Without one the CLI
   * refuses what needs permission by itself, as it always did.
   */
  readonly asksPeople: boolean;
  /** File paths (globs relative to the workspace) whose edits the CLI must ask about first. */
  readonly gatedWrites: readonly string[];
  /** Whether a tool call the CLI asks about may run: the approval policy decides, or a person does. */
  decide(call: ToolCall, signal: AbortSignal): Promise<ToolDecision>;
  /** Takes the messages people sent the task, as text for the agent; they belong to this run from then on. */
  takeMessages(): Promise<string[]>;
  /** `listener` is called when messages may be waiting. */
  onMessages(listener: () => void): void;
}

/** What a running attempt has used so far. */
export interface LiveUsage {
  apiRequests: number;
  usage: TokenUsage;
  costUsd: number;
}

/** The honest account of one attempt, as the driver observed it. */
export interface AgentRunReport {
  outcome: Outcome;
  evidence: Evidence;
  /** False when retrying cannot help (a refused request, a missing model). Default true. */
  retryable?: boolean;
  resultText?: string;
  result?: unknown;
  error?: string;
  /** What the agent asked a person (outcome `needs_input`), in plain words. */
  question?: string;
  usage: TokenUsage;
  costUsd: number;
  /** The CLI's own cost estimate, for cross-checking `costUsd`. */
  cliCostUsd?: number;
  model?: string;
  sessionId?: string;
  /** A wait the agent's API asked for before trying again (retry-after), if any. */
  retryAfterMs?: number;
  /** When an exhausted subscription window resets. */
  resetsAt?: Date;
  /** The subscription window that rejected the run (`five_hour`, `seven_day_opus`, …). */
  rateLimitType?: string;
  /** A subscription window is nearly used up until then: prefer other agents. */
  quotaWarningUntil?: Date;
  /** Model API requests the attempt made. */
  apiRequests?: number;
  /** The commit the attempt's checkout was at (set by the runner): the provenance of what it found. */
  commit?: string;
}

/**
 * The boundary between the supervisor and an agent CLI. A driver runs one attempt to its end and
 * reports what happened; it never throws for things the agent did, only for its own bugs.
 */
export interface AgentDriver {
  readonly name: string;
  /** The driver an attempt of this agent is recorded with (a driver of several CLIs names the agent's). */
  nameFor?(agent: AgentIdentity): string;
  /** Whether attempts need a workspace (a checkout of the repository) to run in. */
  readonly usesWorkspace: boolean;
  run(request: AgentRunRequest): Promise<AgentRunReport>;
}
