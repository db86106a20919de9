import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MEMORY_TOOLS } from '../../memory/prompt-memory.ts';
import {
  killGroup,
  MAX_EVENT_BYTES,
  STDERR_TAIL_BYTES,
  scrubber,
  storedEvent,
  terminate,
} from '../agent-process.ts';
import { type AgentUser, handOver } from '../agent-user.ts';
import { killAttemptProcesses } from '../attempt-processes.ts';
import { type AgentDriver, type AgentRunReport, type AgentRunRequest, STOP_REASONS } from '../driver.ts';
import { EventBatcher } from '../event-batcher.ts';
import { LineSplitter } from '../line-splitter.ts';
import type { ModelApiTap, TapRoute } from '../model-api-tap.ts';
import { type EarlyStop, reportOf, type StopCause } from '../run-verdict.ts';
import { fingerprint } from '../secrets.ts';
import { watchdogVerdict } from '../watchdog.ts';
import { AgentInput } from './agent-input.ts';
import { CLAUDE_BIN } from './binary.ts';
import { accountUsage, classify } from './classify.ts';
import { claudeCommand, credentialSecrets } from './command.ts';
import { copyTranscript } from './session-files.ts';
import { ClaudeStreamState } from './stream-state.ts';

export interface ClaudeDriverOptions {
  /** The `claude` executable; the pinned one unless a test or an operator says otherwise. */
  binary?: string;
  /** PATH the agent's commands run with. */
  agentPath: string;
  allowedCommands: string[];
  apiRetries: number;
  apiTimeoutMs: number;
  /** Time between SIGTERM and SIGKILL when stopping an agent. */
  killGraceMs?: number;
  /** How often the watchdog looks. */
  watchdogIntervalMs?: number;
  /** Run agent processes as this unprivileged user (AGENT_USER); unset: as the supervisor's user. */
  runAs?: AgentUser;
  /**
   * Passes the CLI's model API calls through the supervisor, which reads quota signals off the
   * responses' headers (src/agents/model-api-tap.ts). Unset: the CLI talks to the API directly.
   */
  tap?: ModelApiTap;
  now?: () => number;
}

/**
 * Runs one attempt with the real Claude Code CLI: `claude -p` in stream-json mode, the prompt on
 * stdin, an environment built from scratch, in its own process group. Every stdout line is stored
 * as an event (with the credential scrubbed out), fed to the stream state and the watchdog, and
 * the outcome is classified from the stream at the end, never from the exit code alone.
 */
export class ClaudeCodeDriver implements AgentDriver {
  readonly name = 'claude-code';
  readonly usesWorkspace = true;
  readonly #options: ClaudeDriverOptions;
  readonly #now: () => number;

  constructor(options: ClaudeDriverOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async run(request: AgentRunRequest): Promise<AgentRunReport> {
    const dirs = {
      configDir: join(request.session.stateDir, 'config'),
      homeDir: join(request.session.stateDir, 'home'),
      tmpDir: join(request.session.stateDir, 'tmp'),
    };
    for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
    if (request.session.resume && request.session.resumeFrom) {
      copyTranscript(join(request.session.resumeFrom, 'config'), dirs.configDir, request.session.id);
    }
    // A file, not an argument: the configuration holds a token that `ps` would show to everyone.
    // The directory may belong to the agent's user (AGENT_USER): remove whatever is there and
    // create the file exclusively, so a planted symlink can never redirect the write.
    const mcpConfigFile = join(request.session.stateDir, 'mcp.json');
    rmSync(mcpConfigFile, { force: true });
    if (request.mcp) {
      writeFileSync(mcpConfigFile, JSON.stringify(request.mcp.config), { mode: 0o600, flag: 'wx' });
    }
    const runAs = this.#options.runAs;
    if (runAs) await handOver([request.session.stateDir, request.workspace.dir], runAs);
    const state = new ClaudeStreamState();
    let stop: (cause: StopCause) => void = () => {};
    const route = await this.#openRoute(request, state, (early) => stop({ kind: 'early', stop: early }));
    const baseUrl = route?.url ?? request.agent.baseUrl;
    const { args, env } = claudeCommand({
      model: request.agent.model,
      sessionId: request.session.id,
      resume: request.session.resume,
      maxTurns: request.limits.maxTurns,
      maxBudgetUsd: request.limits.budgetUsd,
      readOnly: request.workspace.readOnly,
      allowedCommands: this.#options.allowedCommands,
      appendSystemPrompt: request.prompt.appendSystemPrompt,
      ...(request.prompt.jsonSchema ? { jsonSchema: request.prompt.jsonSchema } : {}),
      ...(request.mcp ? { mcp: { configFile: mcpConfigFile, tools: MEMORY_TOOLS } } : {}),
      credential: request.agent.credential,
      ...(baseUrl ? { baseUrl } : {}),
      ...dirs,
      path: this.#options.agentPath,
      apiRetries: this.#options.apiRetries,
      apiTimeoutMs: this.#options.apiTimeoutMs,
      gitIdentity: { name: 'Supervisor agent', email: 'agent@supervisor.invalid' },
      attemptId: request.attemptId,
      ...(request.people?.asksPeople
        ? { permissionPrompt: true, gatedWrites: request.people.gatedWrites }
        : {}),
      ...(runAs ? { gitSafeDirectory: request.workspace.dir } : {}),
    });

    const secrets = [...credentialSecrets(request.agent.credential), ...(request.mcp?.secrets ?? [])];
    const scrub = scrubber(secrets);
    const batcher = new EventBatcher((events) => request.emit(events));
    const startedAt = this.#now();
    let lastEventAt = startedAt;
    let stopCause: StopCause | undefined;
    let spawnError: string | undefined;
    let stderrTail = '';

    const child = spawn(this.#options.binary ?? CLAUDE_BIN, args, {
      cwd: request.workspace.dir,
      env,
      // Its own process group, so stopping it also stops whatever its tools started.
      detached: true,
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const closed = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      child.on('close', (code, signal) => resolve({ code, signal }));
    });
    child.on('error', (error) => {
      spawnError = error.message;
    });
    if (child.pid !== undefined) request.onSpawn?.(child.pid);
    const input = new AgentInput(child, request.people);
    input.send({ type: 'user', message: { role: 'user', content: request.prompt.text } });
    request.people?.onMessages(() => input.deliver({ closeIfNone: false }));

    stop = (cause: StopCause) => {
      if (stopCause) return;
      stopCause = cause;
      input.close();
      terminate(child, this.#options.killGraceMs ?? 3000);
    };
    const permissions = new Map<string, AbortController>();
    const onLine = (line: string) => {
      lastEventAt = this.#now();
      const clean = scrub(line);
      let event: unknown;
      try {
        event = JSON.parse(clean);
      } catch {
        batcher.add({ type: 'raw', data: { line: clean.slice(0, MAX_EVENT_BYTES) } });
        return;
      }
      const early = state.consume(event);
      batcher.add(claudeEvent(event, clean.length));
      if (early) stop({ kind: 'early', stop: early });
      const object = event as Record<string, unknown>;
      if (object.type === 'control_request') {
        input.answer(object, toolInput(line), permissions);
      } else if (object.type === 'control_cancel_request') {
        permissions.get(String(object.request_id))?.abort();
      } else if (object.type === 'result') {
        // The turn is over: what people sent meanwhile starts the next one, or the run ends here.
        input.deliver({ closeIfNone: true });
      }
    };

    const stdout = new LineSplitter();
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => stdout.push(chunk).forEach(onLine));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
    });

    const onAbort = () =>
      stop(request.signal.reason === STOP_REASONS.shutdown ? { kind: 'shutdown' } : { kind: 'cancel' });
    if (request.signal.aborted) onAbort();
    else request.signal.addEventListener('abort', onAbort, { once: true });

    const limits = request.limits;
    let reported = '';
    const watchdog = setInterval(() => {
      const spent = accountUsage(state);
      const used = { apiRequests: state.requestCount, usage: spent.usage, costUsd: spent.costUsd };
      const key = JSON.stringify(used);
      if (key !== reported) {
        reported = key;
        request.onUsage?.(used);
      }
      const now = this.#now();
      const waitingForPerson = permissions.size > 0;
      // The idle clock starts again when the person has answered.
      if (waitingForPerson) lastEventAt = now;
      const verdict = watchdogVerdict(
        { startedAt, lastEventAt, toolRunning: state.toolRunning, waitingForPerson, spentUsd: spent.costUsd },
        now,
        {
          idleMs: limits.idleMs,
          toolIdleMs: limits.toolIdleMs,
          wallClockMs: limits.wallClockMs,
          budgetUsd: limits.budgetUsd,
        },
      );
      if (verdict) stop(verdict);
    }, this.#options.watchdogIntervalMs ?? 250);

    const exit = await closed;
    input.close();
    for (const pending of permissions.values()) pending.abort();
    await input.settled();
    for (const id of input.deniedByPerson) state.deniedByPerson.add(id);
    route?.close();
    clearInterval(watchdog);
    request.signal.removeEventListener('abort', onAbort);
    stdout.end().forEach(onLine);
    // Whatever the agent's tools left running goes with it: in its group, and in any other group
    // or session a tool moved to.
    killGroup(child, 'SIGKILL');
    killAttemptProcesses(request.attemptId);
    rmSync(mcpConfigFile, { force: true });
    await batcher.close();

    const verdict = classify(
      state,
      {
        exitCode: exit.code,
        signal: exit.signal,
        stderrTail: scrub(stderrTail),
        ...(spawnError ? { spawnError } : {}),
      },
      stopCause,
    );
    return {
      ...reportOf(verdict, state.requestCount),
      ...(verdict.cliCostUsd !== undefined ? { cliCostUsd: verdict.cliCostUsd } : {}),
      ...(state.rateLimit?.rateLimitType ? { rateLimitType: state.rateLimit.rateLimitType } : {}),
      ...(verdict.quotaWarning?.resetsAt
        ? { quotaWarningUntil: new Date(verdict.quotaWarning.resetsAt * 1000) }
        : {}),
    };
  }

  /**
   * A route through the model API tap for this run, whose responses feed the stream state; a
   * refusal stops the run. Cloud credentials (Bedrock, Vertex) reach their provider by its own
   * SDK and are not tapped.
   */
  async #openRoute(
    request: AgentRunRequest,
    state: ClaudeStreamState,
    onStop: (early: EarlyStop) => void,
  ): Promise<TapRoute | undefined> {
    const tap = this.#options.tap;
    const credential = request.agent.credential;
    if (!tap || credential.kind === 'cloud') return undefined;
    return tap.open({
      upstream: request.agent.baseUrl ?? ANTHROPIC_API,
      holdKey: `${request.agent.id}:${fingerprint(credential.value)}`,
      onResponse: (response) => {
        const now = new Date(this.#now());
        const early = state.observeResponse(response.status, response.header, now);
        if (early) onStop(early);
        if (response.status !== 429) return undefined;
        const resetsAt = state.rateLimit?.status === 'rejected' ? state.rateLimit.resetsAt : undefined;
        if (resetsAt) return { holdUntil: new Date(resetsAt * 1000) };
        return state.retryAfterMs ? { holdUntil: new Date(now.getTime() + state.retryAfterMs) } : undefined;
      },
    });
  }
}

/** The provider's API, where the CLI goes when no base URL is configured. */
const ANTHROPIC_API = 'https://api.anthropic.com';

/** The tool input of a control request exactly as the CLI sent it (not scrubbed), to hand back. */
function toolInput(line: string): unknown {
  return (JSON.parse(line) as { request?: { input?: unknown } }).request?.input;
}

/** The event as stored: its type (with subtype) and the whole object, or a preview if huge. */
function claudeEvent(event: unknown, bytes: number): { type: string; data: unknown } {
  const object =
    typeof event === 'object' && event !== null ? (event as Record<string, unknown>) : { value: event };
  const type = typeof object.type === 'string' ? object.type : 'unknown';
  return storedEvent(typeof object.subtype === 'string' ? `${type}/${object.subtype}` : type, object, bytes);
}
