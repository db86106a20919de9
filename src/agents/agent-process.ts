import { type ChildProcess, spawn } from 'node:child_process';
import type { TokenUsage } from '../core/outcome.ts';
import type { AgentUser } from './agent-user.ts';
import { killAttemptProcesses } from './attempt-processes.ts';
import { type AgentEvent, type AgentRunRequest, type AttemptLimits, STOP_REASONS } from './driver.ts';
import { EventBatcher } from './event-batcher.ts';
import { LineSplitter } from './line-splitter.ts';
import { pricedUsage } from './response-usage.ts';
import type { ProcessFacts, StopCause } from './run-verdict.ts';
import { watchdogVerdict } from './watchdog.ts';

/**
 * What every agent CLI driver does with its process and its output alike: stopping its whole
 * process group, keeping the tail of stderr, scrubbing secrets, storing a printed event, and (for
 * CLIs that print one JSON event per line and take their prompt on stdin) running the process
 * to its end under the watchdog.
 */

/** Largest event stored whole; bigger ones (a huge tool result) keep a preview and their size. */
export const MAX_EVENT_BYTES = 256 * 1024;
export const STDERR_TAIL_BYTES = 4096;

/** Replaces every secret in a text the agent printed. */
export function scrubber(secrets: string[]): (text: string) => string {
  return (text) => secrets.reduce((clean, secret) => clean.replaceAll(secret, '[redacted]'), text);
}

/** The event as stored under `type`: the whole object, or a preview if huge. */
export function storedEvent(type: string, object: Record<string, unknown>, bytes: number) {
  if (bytes <= MAX_EVENT_BYTES) return { type, data: object };
  return { type, data: { truncated: true, bytes, preview: JSON.stringify(object).slice(0, 4096) } };
}

export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is already gone
  }
}

/** SIGTERM to the whole group, then SIGKILL if it is still there after the grace period. */
export function terminate(child: ChildProcess, graceMs: number): void {
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  timer.unref();
  child.once('close', () => clearTimeout(timer));
}

export interface JsonLinesRun {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  runAs?: AgentUser;
  /** Written to stdin, which is then closed. */
  stdin: string;
  /** Scrubbed from every line before it is parsed or stored. */
  secrets: string[];
  attemptId: string;
  limits: AttemptLimits;
  signal: AbortSignal;
  emit(events: AgentEvent[]): Promise<void>;
  onSpawn?(pid: number): void;
  /** Each parsed line, then stored under the type this gives. */
  onEvent(event: Record<string, unknown>): void;
  storedType(event: Record<string, unknown>): string;
  toolRunning(): boolean;
  /** What the run has cost so far, for the budget limit. */
  spentUsd(): number;
  /** Called on every watchdog tick (usage reports). */
  onTick?(): void;
  killGraceMs: number;
  watchdogIntervalMs: number;
  now: () => number;
}

export interface JsonLinesEnd {
  exit: { code: number | null; signal: string | null };
  stopCause?: StopCause;
  spawnError?: string;
  stderrTail: string;
}

/**
 * Runs an agent CLI that prints one JSON event per line, in its own process group, to its end:
 * every line is scrubbed, parsed, handed to `onEvent` and stored; the watchdog stops a stalled,
 * overlong run, a cancel or shutdown stops it, and `stop` lets the driver stop it early. When it
 * ends, whatever its tools left running goes with it.
 */
export function runJsonLines(run: JsonLinesRun): {
  stop(cause: StopCause): void;
  done: Promise<JsonLinesEnd>;
} {
  const scrub = scrubber(run.secrets.filter((secret) => secret.length >= 12));
  const batcher = new EventBatcher((events) => run.emit(events));
  const startedAt = run.now();
  let lastEventAt = startedAt;
  let stopCause: StopCause | undefined;
  let spawnError: string | undefined;
  let stderrTail = '';

  const child = spawn(run.command, run.args, {
    cwd: run.cwd,
    env: run.env,
    // Its own process group, so stopping it also stops whatever its tools started.
    detached: true,
    ...(run.runAs ? { uid: run.runAs.uid, gid: run.runAs.gid } : {}),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const closed = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  child.on('error', (error) => {
    spawnError = error.message;
  });
  child.stdin?.on('error', () => {}); // a CLI that died early closes its stdin under us
  child.stdin?.end(run.stdin);
  if (child.pid !== undefined) run.onSpawn?.(child.pid);

  const stop = (cause: StopCause) => {
    if (stopCause) return;
    stopCause = cause;
    terminate(child, run.killGraceMs);
  };
  const onLine = (line: string) => {
    lastEventAt = run.now();
    const clean = scrub(line);
    let event: unknown;
    try {
      event = JSON.parse(clean);
    } catch {
      batcher.add({ type: 'raw', data: { line: clean.slice(0, MAX_EVENT_BYTES) } });
      return;
    }
    const object =
      typeof event === 'object' && event !== null && !Array.isArray(event)
        ? (event as Record<string, unknown>)
        : { value: event };
    run.onEvent(object);
    batcher.add(storedEvent(run.storedType(object), object, clean.length));
  };
  const stdout = new LineSplitter();
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => stdout.push(chunk).forEach(onLine));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
  });

  const onAbort = () =>
    stop(run.signal.reason === STOP_REASONS.shutdown ? { kind: 'shutdown' } : { kind: 'cancel' });
  if (run.signal.aborted) onAbort();
  else run.signal.addEventListener('abort', onAbort, { once: true });

  const { limits } = run;
  const watchdog = setInterval(() => {
    run.onTick?.();
    const verdict = watchdogVerdict(
      { startedAt, lastEventAt, toolRunning: run.toolRunning(), spentUsd: run.spentUsd() },
      run.now(),
      {
        idleMs: limits.idleMs,
        toolIdleMs: limits.toolIdleMs,
        wallClockMs: limits.wallClockMs,
        budgetUsd: limits.budgetUsd,
      },
    );
    if (verdict) stop(verdict);
  }, run.watchdogIntervalMs);

  const done = (async (): Promise<JsonLinesEnd> => {
    const exit = await closed;
    clearInterval(watchdog);
    run.signal.removeEventListener('abort', onAbort);
    stdout.end().forEach(onLine);
    // Whatever the agent's tools left running goes with it: in its group, and in any other group
    // or session a tool moved to.
    killGroup(child, 'SIGKILL');
    killAttemptProcesses(run.attemptId);
    await batcher.close();
    return {
      exit,
      ...(stopCause ? { stopCause } : {}),
      ...(spawnError ? { spawnError } : {}),
      stderrTail: scrub(stderrTail),
    };
  })();
  return { stop, done };
}

/** What the stream state of a CLI whose use the tap reads offers the runner. */
export interface TappedRunState {
  consume(event: Record<string, unknown>): void;
  readonly toolRunning: boolean;
  readonly requestCount: number;
  readonly usageByModel: Map<string, TokenUsage>;
}

/**
 * Runs the attempt's CLI with the request's own hooks (events, cancel, spawn), feeding the stream
 * state, charging the use the tap reads as it grows, and watching the budget with it.
 */
export function runTappedCli(
  request: AgentRunRequest,
  state: TappedRunState,
  spec: Pick<
    JsonLinesRun,
    | 'command'
    | 'args'
    | 'env'
    | 'runAs'
    | 'stdin'
    | 'secrets'
    | 'storedType'
    | 'killGraceMs'
    | 'watchdogIntervalMs'
    | 'now'
  >,
): { stop(cause: StopCause): void; done: Promise<JsonLinesEnd> } {
  let reported = '';
  const spent = () => pricedUsage(state.usageByModel);
  return runJsonLines({
    ...spec,
    cwd: request.workspace.dir,
    attemptId: request.attemptId,
    limits: request.limits,
    signal: request.signal,
    emit: request.emit,
    ...(request.onSpawn ? { onSpawn: request.onSpawn } : {}),
    onEvent: (event) => state.consume(event),
    toolRunning: () => state.toolRunning,
    spentUsd: () => spent().costUsd,
    onTick: () => {
      const used = { apiRequests: state.requestCount, ...spent() };
      const key = JSON.stringify(used);
      if (key === reported) return;
      reported = key;
      request.onUsage?.(used);
    },
  });
}

/** The process facts a classifier reads, from how the run ended. */
export function processFacts(end: JsonLinesEnd): ProcessFacts {
  return {
    exitCode: end.exit.code,
    signal: end.exit.signal,
    stderrTail: end.stderrTail,
    ...(end.spawnError ? { spawnError: end.spawnError } : {}),
  };
}
