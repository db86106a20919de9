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
import { readInside, removeStateFile } from '../state-files.ts';
import { GEMINI_ENTRY } from './binary.ts';
import { classifyGemini } from './classify.ts';
import { GEMINI_API, GEMINI_HOME, geminiCommand, geminiPrompt, geminiToken } from './command.ts';
import { geminiUsage } from './response-usage.ts';
import { geminiChat } from './session-files.ts';
import { GeminiStreamState } from './stream-state.ts';

export interface GeminiDriverOptions {
  agentPath: string;
  /** Shell command prefixes a mutating agent may run (AGENT_ALLOWED_COMMANDS). */
  allowedCommands: string[];
  /** Every model API call passes the tap: statuses, and the stop of the CLI's long retries. */
  tap: ModelApiTap;
  killGraceMs?: number;
  watchdogIntervalMs?: number;
  runAs?: AgentUser;
  now?: () => number;
}

/**
 * Runs one attempt with the real Gemini CLI: `gemini --output-format stream-json` headless with
 * the prompt on stdin, its own GEMINI_CLI_HOME in the attempt's state directory, a tool policy
 * (src/agents/gemini/command.ts), an environment
 * built from scratch, in its own process group. A later attempt continues the session from a copy
 * of its file (`--session-file`), which the CLI takes from any directory.
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
    const settingsFile = join(geminiHome, '.gemini', 'settings.json');
    const policyFile = join(stateDir, 'policy.toml');
    // A session to continue: its file, copied from the attempt that last ran it.
    const resumeFrom = request.session.resume ? request.session.resumeFrom : undefined;
    const chatFile = resumeFrom ? geminiChat(resumeFrom, request.session.id) : undefined;
    const chat = resumeFrom && chatFile ? readInside(resumeFrom, chatFile) : undefined;
    const resumeFile = join(stateDir, 'resume-chat.jsonl');
    if (chat) writeFileSync(resumeFile, chat);
    const state = new GeminiStreamState();
    let stop: (cause: StopCause) => void = () => {};
    const credential = request.agent.credential;
    const route = await this.#options.tap.open({
      upstream: request.agent.baseUrl ?? GEMINI_API,
      readsBodies: true,
      holdKey: `${request.agent.id}:${fingerprint(geminiToken(credential))}`,
      onResponse: (response) => {
        const early = state.observeResponse(response.status, response.header);
        if (early) stop({ kind: 'early', stop: early });
        if (response.status >= 400 || response.local) return undefined;
        return {
          body: usageObserver(response.header('content-type'), geminiUsage, (found) =>
            addUsage(state.usageByModel, found),
          ),
        };
      },
    });
    try {
      const runAs = this.#options.runAs;
      const { args, env, settings, policy } = geminiCommand({
        model: request.agent.model,
        session: chat ? { file: resumeFile } : { id: request.session.id },
        readOnly: request.workspace.readOnly,
        allowedCommands: this.#options.allowedCommands,
        policyFile,
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
      // Holds the MCP server's token, so only its owner may read it. The state directory is still
      // the supervisor's here: the agent's user gets it below.
      rmSync(settingsFile, { force: true });
      writeFileSync(settingsFile, JSON.stringify(settings), { mode: 0o600, flag: 'wx' });
      rmSync(policyFile, { force: true });
      if (policy) writeFileSync(policyFile, policy, { flag: 'wx' });
      if (runAs) await handOver([stateDir, request.workspace.dir], runAs);

      const run = runTappedCli(request, state, {
        command: process.execPath,
        args: [GEMINI_ENTRY, ...args],
        env,
        ...(runAs ? { runAs } : {}),
        stdin: geminiPrompt(request.prompt),
        secrets: [geminiToken(credential), ...(request.mcp?.secrets ?? [])],
        storedType: (event) => (typeof event.type === 'string' ? `gemini.${event.type}` : 'gemini.unknown'),
        killGraceMs: this.#options.killGraceMs ?? 3000,
        watchdogIntervalMs: this.#options.watchdogIntervalMs ?? 250,
        now: this.#now,
      });
      stop = run.stop;
      const end = await run.done;
      const verdict = classifyGemini(
        state,
        processFacts(end),
        { model: request.agent.model, structured: request.prompt.jsonSchema !== undefined },
        end.stopCause,
      );
      return reportOf(verdict, state.requestCount);
    } finally {
      route.close();
      // The directories on the way may be the agent's user's by now.
      removeStateFile(stateDir, settingsFile);
    }
  }
}
