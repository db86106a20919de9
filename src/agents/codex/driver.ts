import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processFacts, runTappedCli } from '../agent-process.ts';
import { type AgentUser, handOver } from '../agent-user.ts';
import type { AgentDriver, AgentRunReport, AgentRunRequest } from '../driver.ts';
import { mcpServersOf } from '../mcp-servers.ts';
import type { ModelApiTap } from '../model-api-tap.ts';
import { addUsage, usageObserver } from '../response-usage.ts';
import { reportOf, type StopCause } from '../run-verdict.ts';
import { fingerprint } from '../secrets.ts';
import { removeStateFile } from '../state-files.ts';
import { CODEX_ENTRY } from './binary.ts';
import { classifyCodex } from './classify.ts';
import { codexCommand, codexToken, OPENAI_API } from './command.ts';
import { responsesUsage } from './response-usage.ts';
import { CODEX_HOME, copyCodexHome } from './session-files.ts';
import { CodexStreamState } from './stream-state.ts';

export interface CodexDriverOptions {
  /** PATH the agent's commands run with. */
  agentPath: string;
  /** Retries per API request inside the CLI. */
  apiRetries: number;
  /** Every model API call passes the tap: the only place Codex's HTTP statuses can be seen. */
  tap: ModelApiTap;
  killGraceMs?: number;
  watchdogIntervalMs?: number;
  runAs?: AgentUser;
  now?: () => number;
}

/**
 * Runs one attempt with the real Codex CLI: `codex exec --json` with the prompt on stdin, its own
 * CODEX_HOME (config, thread rollouts) in the attempt's state directory, an environment built from
 * scratch, in its own process group. Every stdout line is stored as an event (scrubbed), fed to the
 * stream state and the watchdog; the outcome is classified from the stream and the API responses
 * at the end. Codex takes no input once started: people's messages start a new run that resumes
 * the thread (follow-ups), and it cannot ask a person about a tool call.
 */
export class CodexDriver implements AgentDriver {
  readonly name = 'codex';
  readonly usesWorkspace = true;
  readonly #options: CodexDriverOptions;
  readonly #now: () => number;

  constructor(options: CodexDriverOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async run(request: AgentRunRequest): Promise<AgentRunReport> {
    const stateDir = request.session.stateDir;
    const dirs = {
      codexHome: join(stateDir, CODEX_HOME),
      homeDir: join(stateDir, 'home'),
      tmpDir: join(stateDir, 'tmp'),
    };
    for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
    const resumeFrom = request.session.resume ? request.session.resumeFrom : undefined;
    if (resumeFrom) copyCodexHome(resumeFrom, stateDir);
    const schemaFile = join(stateDir, 'output-schema.json');
    const configFile = join(dirs.codexHome, 'config.toml');
    const state = new CodexStreamState();
    let stop: (cause: StopCause) => void = () => {};
    const credential = request.agent.credential;
    const route = await this.#options.tap.open({
      upstream: request.agent.baseUrl ?? OPENAI_API,
      readsBodies: true,
      holdKey: `${request.agent.id}:${fingerprint(codexToken(credential))}`,
      onResponse: (response) => {
        const early = state.observeResponse(response.status, response.header, new Date(this.#now()));
        if (early) stop({ kind: 'early', stop: early });
        if (response.status === 429 && state.retryAfterMs)
          return { holdUntil: new Date(this.#now() + state.retryAfterMs) };
        if (response.status >= 400 || response.local) return undefined;
        return {
          body: usageObserver(response.header('content-type'), responsesUsage, (found) =>
            addUsage(state.usageByModel, found),
          ),
        };
      },
    });
    try {
      // The state directory is still the supervisor's here: the agent's user gets it below.
      rmSync(schemaFile, { force: true });
      if (request.prompt.jsonSchema)
        writeFileSync(schemaFile, JSON.stringify(request.prompt.jsonSchema), { flag: 'wx' });
      const runAs = this.#options.runAs;
      const { args, env, config } = codexCommand({
        model: request.agent.model,
        ...(resumeFrom ? { resumeThread: request.session.id } : {}),
        readOnly: request.workspace.readOnly,
        workspaceDir: request.workspace.dir,
        appendSystemPrompt: request.prompt.appendSystemPrompt,
        ...(request.prompt.jsonSchema ? { outputSchemaFile: schemaFile } : {}),
        ...(request.mcp ? { mcpServers: mcpServersOf(request.mcp.config) } : {}),
        credential,
        baseUrl: route.url,
        ...dirs,
        path: this.#options.agentPath,
        apiRetries: this.#options.apiRetries,
        streamIdleMs: request.limits.idleMs,
        gitIdentity: { name: 'Supervisor agent', email: 'agent@supervisor.invalid' },
        attemptId: request.attemptId,
        ...(runAs ? { gitSafeDirectory: request.workspace.dir } : {}),
      });
      // Holds the MCP server's token, so only its owner may read it.
      rmSync(configFile, { force: true });
      writeFileSync(configFile, config, { mode: 0o600, flag: 'wx' });
      if (runAs) await handOver([stateDir, request.workspace.dir], runAs);

      const run = runTappedCli(request, state, {
        command: process.execPath,
        args: [CODEX_ENTRY, ...args],
        env,
        ...(runAs ? { runAs } : {}),
        stdin: request.prompt.text,
        secrets: [codexToken(credential), ...(request.mcp?.secrets ?? [])],
        storedType: codexEventType,
        killGraceMs: this.#options.killGraceMs ?? 3000,
        watchdogIntervalMs: this.#options.watchdogIntervalMs ?? 250,
        now: this.#now,
      });
      stop = run.stop;
      const end = await run.done;
      const verdict = classifyCodex(
        state,
        processFacts(end),
        { model: request.agent.model, structured: request.prompt.jsonSchema !== undefined },
        end.stopCause,
      );
      return {
        ...reportOf(verdict, state.requestCount),
        ...(state.quotaWarningUntil ? { quotaWarningUntil: state.quotaWarningUntil } : {}),
      };
    } finally {
      route.close();
      // The directories on the way may be the agent's user's by now.
      removeStateFile(stateDir, configFile);
    }
  }
}

/** The type an event is stored under: items as `item.<phase>/<item type>`, the rest as their own. */
function codexEventType(event: Record<string, unknown>): string {
  const type = typeof event.type === 'string' ? event.type : 'unknown';
  const item = event.item as { type?: unknown } | undefined;
  return typeof item?.type === 'string' ? `${type}/${item.type}` : type;
}
