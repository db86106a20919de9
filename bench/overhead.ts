/**
 * Supervisor overhead: N identical scripted tasks run through the supervisor (queue, workspace,
 * prompt, driver, event storage, classification) against the same `claude -p` invocations run
 * bare, in the same run, with the same concurrency, against the same scripted model server.
 * Prints both wall times and the ratio (target ≤ 1.10). Then one more supervisor round, not
 * counted, runs under the CPU profiler: the profile is written beside the bench
 * (bench/output/overhead.cpuprofile, for Chrome's DevTools) and summarised by module.
 *
 *   node bench/overhead.ts            # N=20, concurrency 2, embedded PGlite
 *   DATABASE_URL=postgres://… node bench/overhead.ts   # the same on a PostgreSQL server
 *   BENCH_TASKS=40 BENCH_CONCURRENCY=4 node bench/overhead.ts
 *   MEMORY_TOOLS=stdio|off node bench/overhead.ts   # memory tools from a process per run, or none
 *   BENCH_CLI=codex|gemini node bench/overhead.ts   # the same with that CLI's agents (bare: its own command)
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { CLAUDE_BIN } from '../src/agents/claude-code/binary.ts';
import { claudeCommand } from '../src/agents/claude-code/command.ts';
import { CODEX_ENTRY } from '../src/agents/codex/binary.ts';
import { codexCommand } from '../src/agents/codex/command.ts';
import { GEMINI_ENTRY } from '../src/agents/gemini/binary.ts';
import { geminiCommand, geminiPrompt } from '../src/agents/gemini/command.ts';
import { loadConfig } from '../src/config/load.ts';
import type { AgentCli } from '../src/core/agent-types.ts';
import { buildPrompt } from '../src/core/prompts.ts';
import { isTerminal } from '../src/core/task-status.ts';
import { Supervisor } from '../src/runtime/supervisor.ts';
import { startScriptedModelServer } from '../src/scripted-model/server.ts';
import * as steps from '../src/scripted-model/steps.ts';
import { type CpuProfile, startCpuProfile, summariseCpuProfile, writeCpuProfile } from './cpu-profile.ts';
import { benchRepository } from './support.ts';

const cli = (process.env.BENCH_CLI ?? 'claude-code') as AgentCli;
const tasks = Number(process.env.BENCH_TASKS ?? 20);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 2);
const KEY = 'sk-bench';
const analysis = { summary: 'Nothing alarming.', findings: [] };

const work = mkdtempSync(join(tmpdir(), 'supervisor-overhead-'));
const repository = benchRepository(work);

const model = await startScriptedModelServer();
// Claude Code answers through its StructuredOutput tool; Codex and Gemini with the JSON as text.
model.script(KEY, [
  cli === 'claude-code'
    ? steps.toolUse([{ name: 'StructuredOutput', input: analysis }], { repeat: 100_000 })
    : steps.text(JSON.stringify(analysis), { repeat: 100_000 }),
]);
const payload = { repository };
const MODEL = { 'claude-code': 'claude-sonnet-4-5', codex: 'gpt-scripted', gemini: 'gemini-scripted' }[cli];
const AGENT_PATH = `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`;

/** The invocation the driver makes for this task, run directly. */
async function bareRun(): Promise<void> {
  if (cli === 'codex') return bareCodex();
  if (cli === 'gemini') return bareGemini();
  const state = join(work, 'bare', randomUUID());
  for (const dir of ['config', 'home', 'tmp']) mkdirSync(join(state, dir), { recursive: true });
  const prompt = buildPrompt('CODE_ANALYSIS', payload, { nonce: 'bench', hasCheckout: true });
  const { args, env } = claudeCommand({
    model: 'claude-sonnet-4-5',
    sessionId: randomUUID(),
    resume: false,
    maxTurns: 50,
    maxBudgetUsd: 5,
    readOnly: true,
    allowedCommands: [],
    appendSystemPrompt: prompt.appendSystemPrompt,
    ...(prompt.jsonSchema ? { jsonSchema: prompt.jsonSchema } : {}),
    credential: { kind: 'api_key', value: KEY },
    baseUrl: model.url,
    configDir: join(state, 'config'),
    homeDir: join(state, 'home'),
    tmpDir: join(state, 'tmp'),
    path: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
    attemptId: randomUUID(),
    apiRetries: 0,
    apiTimeoutMs: 120_000,
    gitIdentity: { name: 'b', email: 'b@b' },
  });
  await new Promise<void>((resolve, reject) => {
    const child = spawn(CLAUDE_BIN, args, { cwd: repository, env, stdio: ['pipe', 'ignore', 'ignore'] });
    // The driver's input format (stream-json): the prompt is the first user message.
    child.stdin.end(`${JSON.stringify({ type: 'user', message: { role: 'user', content: prompt.text } })}\n`);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`bare claude exited ${code}`))));
  });
}

/** `codex exec` as the Codex driver runs it, straight at the model server (no tap). */
async function bareCodex(): Promise<void> {
  const state = join(work, 'bare', randomUUID());
  const dirs = { codexHome: join(state, 'codex'), homeDir: join(state, 'home'), tmpDir: join(state, 'tmp') };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
  const prompt = buildPrompt('CODE_ANALYSIS', payload, { nonce: 'bench', hasCheckout: true });
  writeFileSync(join(state, 'schema.json'), JSON.stringify(prompt.jsonSchema));
  const { args, env, config } = codexCommand({
    model: MODEL,
    readOnly: true,
    workspaceDir: repository,
    appendSystemPrompt: prompt.appendSystemPrompt,
    outputSchemaFile: join(state, 'schema.json'),
    credential: { kind: 'api_key', value: KEY },
    baseUrl: `${model.url}/v1`,
    ...dirs,
    path: AGENT_PATH,
    apiRetries: 0,
    streamIdleMs: 120_000,
    gitIdentity: { name: 'b', email: 'b@b' },
    attemptId: randomUUID(),
  });
  writeFileSync(join(dirs.codexHome, 'config.toml'), config);
  await runBare([CODEX_ENTRY, ...args], env, prompt.text);
}

/** `gemini` as the Gemini driver runs it, straight at the model server (no tap). */
async function bareGemini(): Promise<void> {
  const state = join(work, 'bare', randomUUID());
  const geminiHome = join(state, 'gemini');
  for (const dir of [join(geminiHome, '.gemini'), join(state, 'tmp')]) mkdirSync(dir, { recursive: true });
  const prompt = buildPrompt('CODE_ANALYSIS', payload, { nonce: 'bench', hasCheckout: true });
  const { args, env, settings } = geminiCommand({
    model: MODEL,
    session: { id: randomUUID() },
    readOnly: true,
    allowedCommands: [],
    policyFile: join(state, 'policy.toml'),
    credential: { kind: 'api_key', value: KEY },
    baseUrl: model.url,
    geminiHome,
    tmpDir: join(state, 'tmp'),
    path: AGENT_PATH,
    gitIdentity: { name: 'b', email: 'b@b' },
    attemptId: randomUUID(),
  });
  writeFileSync(join(geminiHome, '.gemini', 'settings.json'), JSON.stringify(settings));
  await runBare([GEMINI_ENTRY, ...args], env, geminiPrompt(prompt));
}

function runBare(args: string[], env: Record<string, string>, stdin: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: repository,
      env,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.stdin.end(stdin);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`bare ${cli} exited ${code}`))));
  });
}

async function pool(count: number, width: number, run: () => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        next += 1;
        await run();
      }
    }),
  );
}

async function timeBare(): Promise<{ ms: number; cpuMs: number }> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  await pool(tasks, concurrency, bareRun);
  const used = process.cpuUsage(cpu);
  return { ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
}

async function timeSupervisor(
  round: number,
  options: { profile?: boolean } = {},
): Promise<{ ms: number; failed: number; cpuMs: number; database: string; profile?: CpuProfile }> {
  const config = loadConfig({
    env: {
      PORT: '0',
      LOG_LEVEL: 'silent',
      DATA_DIR: join(work, `data-${round}`),
      AGENT_DRIVER: 'claude-code',
      ...(cli === 'claude-code' ? { CLAUDE_API_KEYS: KEY, ANTHROPIC_BASE_URL: model.url } : {}),
      CLAUDE_API_RETRIES: '0',
      WORKER_CONCURRENCY: String(concurrency),
      DATABASE_URL: process.env.DATABASE_URL ?? '',
      // Required with DATABASE_URL; the bench's credentials are throwaway test keys.
      SECRETS_KEY: process.env.SECRETS_KEY ?? 'overhead-bench-secrets-key',
      MEMORY_TOOLS: process.env.MEMORY_TOOLS ?? 'http',
    },
  });
  // Listening, as `serve` does: agents then get the memory tools (`supervisor mcp`) too.
  const supervisor = await Supervisor.start({
    config,
    ...(cli === 'claude-code'
      ? {}
      : {
          agents: [
            {
              id: `bench-${cli}`,
              cli,
              credential: { kind: 'api_key', value: KEY },
              limits: {
                models: [MODEL],
                maxConcurrent: concurrency,
                windows: [],
                baseUrl: cli === 'codex' ? `${model.url}/v1` : model.url,
              },
            },
          ],
        }),
    showAdminToken: () => {},
    logger: pino({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' }),
  });
  try {
    // One warm-up task so the repository copy and PGlite caches exist, as they would in service.
    await runAll(supervisor, 1);
    const stopProfile = options.profile ? await startCpuProfile() : undefined;
    const started = performance.now();
    const cpu = process.cpuUsage();
    const failed = await runAll(supervisor, tasks);
    const used = process.cpuUsage(cpu);
    return {
      ms: performance.now() - started,
      failed,
      cpuMs: (used.user + used.system) / 1000,
      database: supervisor.database.kind,
      ...(stopProfile ? { profile: await stopProfile() } : {}),
    };
  } finally {
    await supervisor.stop();
  }
}

async function runAll(supervisor: Supervisor, count: number): Promise<number> {
  const ids: string[] = [];
  const done = new Set<string>();
  let failed = 0;
  let allDone!: () => void;
  const finished = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  const offs: Array<() => void> = [];
  for (let i = 0; i < count; i++) {
    const { task } = await supervisor.tasks.submit(
      { type: 'CODE_ANALYSIS', payload, priority: 5 },
      { actor: { name: 'bench' } },
    );
    ids.push(task.id);
    offs.push(
      supervisor.bus.subscribe(task.id, (message) => {
        const status = (message.data as { status?: string }).status;
        if (message.type !== 'status' || !status || !isTerminal(status as never)) return;
        if (status !== 'succeeded') failed += 1;
        done.add(task.id);
        if (done.size === count) allDone();
      }),
    );
  }
  await finished;
  for (const off of offs) off();
  return failed;
}

// Alternating rounds, so drift in the machine's load hits both sides alike; medians are reported.
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
await bareRun(); // warm the binary and the page cache
const bareRounds: Array<{ ms: number; cpuMs: number }> = [];
const ourRounds: Array<{ ms: number; cpuMs: number; failed: number; database: string }> = [];
for (let round = 0; round < rounds; round++) {
  bareRounds.push(await timeBare());
  ourRounds.push(await timeSupervisor(round));
}
const profiled = await timeSupervisor(rounds, { profile: true });
await model.close();
rmSync(work, { recursive: true, force: true });

const median = <T extends { ms: number }>(values: T[]): T =>
  [...values].sort((a, b) => a.ms - b.ms)[Math.floor(values.length / 2)]!;
const bare = median(bareRounds);
const ours = median(ourRounds);
console.log(
  `overhead: ${tasks} CODE_ANALYSIS tasks per round on ${cli}, concurrency ${concurrency}, ${rounds} rounds (median shown), Node ${process.version}`,
);
const line = (name: string, f: { ms: number; cpuMs: number }, extra = '') =>
  `${name.padEnd(24)} ${(f.ms / 1000).toFixed(2)} s wall (${(f.ms / tasks).toFixed(0)} ms per task), this process used ${(f.cpuMs / tasks).toFixed(0)} ms CPU per task${extra}`;
console.log(
  line(
    `bare ${cli} runs`,
    bare,
    ` [rounds: ${bareRounds.map((r) => (r.ms / 1000).toFixed(2)).join(', ')} s]`,
  ),
);
console.log(
  line(
    `supervisor (${ours.database}, memory tools ${process.env.MEMORY_TOOLS ?? 'http'})`,
    ours,
    `, ${ourRounds.reduce((sum, r) => sum + r.failed, 0)} failed [rounds: ${ourRounds.map((r) => (r.ms / 1000).toFixed(2)).join(', ')} s]`,
  ),
);
console.log(
  `ratio supervisor/bare: ${(ours.ms / bare.ms).toFixed(3)} (target ≤ 1.10); overhead ${((ours.ms - bare.ms) / tasks).toFixed(0)} ms per task`,
);

// Where the supervisor process's CPU went in the profiled round (the agents are other processes).
const profilePath = fileURLToPath(new URL('./output/overhead.cpuprofile', import.meta.url));
mkdirSync(dirname(profilePath), { recursive: true });
writeCpuProfile(profiled.profile!, profilePath);
const summary = summariseCpuProfile(profiled.profile!, { perItems: tasks, top: 10 });
console.log(
  `\nCPU profile of one more supervisor round (not counted above): ${(summary.busyMs / tasks).toFixed(0)} ms busy per task, written to ${profilePath}`,
);
console.log('self time by module:');
for (const line of summary.self) console.log(`  ${line}`);
console.log('time under each of our files (inclusive):');
for (const line of summary.underOurFiles) console.log(`  ${line}`);
