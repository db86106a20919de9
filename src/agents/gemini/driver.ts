import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ZERO_USAGE } from '../../core/outcome.ts';
import { runJsonLines } from '../agent-process.ts';
import { type AgentUser, handOver } from '../agent-user.ts';
import type { AgentDriver, AgentRunReport, AgentRunRequest } from '../driver.ts';
import { mcpServersOf } from '../mcp-servers.ts';
import type { ModelApiTap } from '../model-api-tap.ts';
import type { StopCause } from '../run-verdict.ts';
import { fingerprint } from '../secrets.ts';
import { GEMINI_ENTRY } from './binary.ts';
import { classifyGemini } from './classify.ts';
import { GEMINI_API, GEMINI_HOME, geminiCommand, geminiPrompt, geminiToken } from './command.ts';
import { GeminiStreamState } from './stream-state.ts';

export interface GeminiDriverOptions {
  agentPath: string;
  /** Every model API call passes the tap: statuses, and the stop of the CLI's long retries. */
  tap: ModelApiTap;
  killGraceMs?: number;
  watchdogIntervalMs?: number;
  runAs?: AgentUser;
  now?: () => number;
}

/**
 * Runs one attempt with the real Gemini CLI: `gemini --output-format stream-json` headless with
 * the prompt on stdin, its own GEMINI_CLI_HOME in the attempt's state directory, an environment
 * built from scratch, in its own process group. Each attempt is a new session: the CLI resumes
 * sessions only by their place in a per-directory list, and every attempt has a directory of its
 * own, so a later attempt is handed the work over instead (src/core/handoff.ts).
 */
export class GeminiDriver implements AgentDriver {
  readonly name = 'gemini';
  readonly usesWorkspace = true;
  readonly #options: GeminiDriverOptions;
  readonly #now: () => number;

  constructor(options: GeminiDriverOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async run(request: AgentRunRequest): Promise<AgentRunReport> {
    const stateDir = request.session.stateDir;
    const geminiHome = join(stateDir, GEMINI_HOME);
    const tmpDir = join(stateDir, 'tmp');
    for (const dir of [join(geminiHome, '.gemini'), tmpDir]) mkdirSync(dir, { recursive: true });

    const state = new GeminiStreamState();
    let stop: (cause: StopCause) => void = () => {};
    const credential = request.agent.credential;
    const route = await this.#options.tap.open({
      upstream: request.agent.baseUrl ?? GEMINI_API,
      holdKey: `${request.agent.id}:${fingerprint(geminiToken(credential))}`,
      onResponse: (response) => {
        const early = state.observeResponse(response.status, response.header);
        if (early) stop({ kind: 'early', stop: early });
        return undefined;
      },
    });
    const runAs = this.#options.runAs;
    const { args, env, settings } = geminiCommand({
      model: request.agent.model,
      sessionId: request.session.id,
      readOnly: request.workspace.readOnly,
      credential,
      baseUrl: route.url,
      ...(request.mcp ? { mcpServers: mcpServersOf(request.mcp.config) } : {}),
      geminiHome,
      tmpDir,
      path: this.#options.agentPath,
      gitIdentity: { name: 'Supervisor agent', email: 'agent@supervisor.invalid' },
      attemptId: request.attemptId,
      ...(runAs ? { gitSafeDirectory: request.workspace.dir } : {}),
    });
    // Holds the MCP server's token: created exclusively (a planted symlink cannot redirect it).
    const settingsFile = join(geminiHome, '.gemini', 'settings.json');
    rmSync(settingsFile, { force: true });
    writeFileSync(settingsFile, JSON.stringify(settings), { mode: 0o600, flag: 'wx' });
    if (runAs) await handOver([stateDir, request.workspace.dir], runAs);

    let reported = 0;
    const run = runJsonLines({
      command: process.execPath,
      args: [GEMINI_ENTRY, ...args],
      env,
      cwd: request.workspace.dir,
      ...(runAs ? { runAs } : {}),
      stdin: geminiPrompt(request.prompt),
      secrets: [geminiToken(credential), ...(request.mcp?.secrets ?? [])],
      attemptId: request.attemptId,
      limits: request.limits,
      signal: request.signal,
      emit: request.emit,
      ...(request.onSpawn ? { onSpawn: request.onSpawn } : {}),
      onEvent: (event) => state.consume(event),
      storedType: (event) => (typeof event.type === 'string' ? `gemini.${event.type}` : 'gemini.unknown'),
      toolRunning: () => state.toolRunning,
      onTick: () => {
        // Tokens come with the result; while it runs, its requests are what is known.
        if (state.requestCount === reported) return;
        reported = state.requestCount;
        request.onUsage?.({ apiRequests: reported, usage: ZERO_USAGE, costUsd: 0 });
      },
      killGraceMs: this.#options.killGraceMs ?? 3000,
      watchdogIntervalMs: this.#options.watchdogIntervalMs ?? 250,
      now: this.#now,
    });
    stop = run.stop;
    const end = await run.done;
    route.close();
    rmSync(settingsFile, { force: true });

    const verdict = classifyGemini(
      state,
      {
        exitCode: end.exit.code,
        signal: end.exit.signal,
        stderrTail: end.stderrTail,
        ...(end.spawnError ? { spawnError: end.spawnError } : {}),
      },
      { model: request.agent.model, structured: request.prompt.jsonSchema !== undefined },
      end.stopCause,
    );
    return {
      outcome: verdict.outcome,
      evidence: verdict.evidence,
      retryable: verdict.retryable,
      usage: verdict.usage,
      costUsd: verdict.costUsd,
      ...(verdict.error ? { error: verdict.error } : {}),
      ...(verdict.resultText !== undefined ? { resultText: verdict.resultText } : {}),
      ...(verdict.structuredOutput !== undefined
        ? { result: { structured_output: verdict.structuredOutput } }
        : {}),
      ...(verdict.model ? { model: verdict.model } : {}),
      ...(verdict.sessionId ? { sessionId: verdict.sessionId } : {}),
      ...(verdict.retryAfterMs ? { retryAfterMs: verdict.retryAfterMs } : {}),
      apiRequests: state.requestCount,
    };
  }
}
