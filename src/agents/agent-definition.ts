import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Config } from '../config/schema.ts';
import { AGENT_CLIS, type AgentCli, type AgentLimits } from '../core/agent-types.ts';
import { QUOTA_METRICS } from '../core/quota.ts';
import type { Credential } from './claude-code/command.ts';

/**
 * The agents a supervisor may run, in one of two forms:
 * - simple: CLAUDE_API_KEYS=key1,key2 gives agents claude-1, claude-2 with CLAUDE_MODEL and one
 *   window of CLAUDE_QUOTA_LIMIT_PER_AGENT requests per CLAUDE_QUOTA_RESET_HOURS;
 * - full: AGENTS_FILE (YAML or JSON) with per-agent credentials, models, run slots, quota windows
 *   and daily budgets. `${NAME}` in a string is replaced by the environment variable NAME, so the
 *   file itself need not hold secrets. `cli` picks the agent CLI (claude-code, the default,
 *   codex or gemini); a codex or gemini agent lists its models and takes an API key or a gateway
 *   token; a codex agent's `base_url` is the Responses API's (ending in /v1), a gemini agent's the
 *   Gemini API's root.
 */

const windowSchema = z.strictObject({
  name: z.string().min(1).max(60).optional(),
  metric: z.enum(QUOTA_METRICS, { error: `expected one of ${QUOTA_METRICS.join(', ')}` }),
  limit: z.number().positive(),
  hours: z.number().positive(),
  mode: z.enum(['rolling', 'fixed']).default('rolling'),
});

const credentialSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('api_key'), value: z.string().min(1) }),
  /** A bearer token for an LLM gateway (sent as Authorization: Bearer). */
  z.strictObject({ kind: z.literal('gateway_token'), value: z.string().min(1) }),
  /** A personal subscription token (`claude setup-token`): used only for its owner's tasks. */
  z.strictObject({ kind: z.literal('subscription'), value: z.string().min(1), owner: z.string().min(1) }),
  /** Cloud-provider settings for Bedrock or Vertex, passed to the CLI as environment variables. */
  z.strictObject({
    kind: z.literal('cloud'),
    provider: z.enum(['bedrock', 'vertex']),
    env: z.record(z.string().regex(/^[A-Z][A-Z0-9_]*$/), z.string()),
  }),
]);

export const agentDefinitionSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, { error: 'expected a lower-case name: letters, digits, . _ -' }),
  cli: z.enum(AGENT_CLIS, { error: `expected one of ${AGENT_CLIS.join(', ')}` }).default('claude-code'),
  credential: credentialSchema,
  models: z.array(z.string().min(1)).min(1).optional(),
  max_concurrent: z.number().int().min(1).max(100).default(2),
  windows: z.array(windowSchema).default([]),
  daily_budget_usd: z.number().positive().optional(),
  base_url: z
    .string()
    .regex(/^https?:\/\/\S+$/)
    .optional(),
});

const agentsFileSchema = z.strictObject({ agents: z.array(agentDefinitionSchema).min(1) });

export interface AgentDefinition {
  id: string;
  cli: AgentCli;
  credential: Credential;
  owner?: string;
  limits: AgentLimits;
}

export class AgentsFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentsFileError';
  }
}

export function loadAgentDefinitions(
  config: Config,
  env: Record<string, string | undefined>,
): AgentDefinition[] {
  if (config.AGENT_DRIVER === 'echo' && !config.AGENTS_FILE) {
    // The echo driver runs no model; one stand-in agent lets the pool admit its tasks as usual.
    return [
      {
        id: 'echo',
        cli: 'claude-code',
        credential: { kind: 'api_key', value: 'echo-driver-runs-no-model' },
        // Runs no model, so no limit of its own: the workers' concurrency bounds it.
        limits: { models: ['none'], maxConcurrent: 10_000, windows: [] },
      },
    ];
  }
  if (config.AGENTS_FILE)
    return parseAgentsFile(readFileSync(config.AGENTS_FILE, 'utf8'), config, env, config.AGENTS_FILE);
  return config.CLAUDE_API_KEYS.map((key, index) => ({
    id: `claude-${index + 1}`,
    cli: 'claude-code',
    credential: { kind: 'api_key', value: key },
    limits: {
      models: [config.CLAUDE_MODEL],
      maxConcurrent: config.CLAUDE_CONCURRENCY_PER_AGENT,
      windows: [
        {
          name: `requests/${config.CLAUDE_QUOTA_RESET_HOURS}h`,
          metric: 'requests',
          limit: config.CLAUDE_QUOTA_LIMIT_PER_AGENT,
          hours: config.CLAUDE_QUOTA_RESET_HOURS,
          mode: 'fixed',
        },
      ],
      ...(config.ANTHROPIC_BASE_URL ? { baseUrl: config.ANTHROPIC_BASE_URL } : {}),
    },
  }));
}

export function parseAgentsFile(
  text: string,
  config: Pick<Config, 'CLAUDE_MODEL' | 'ANTHROPIC_BASE_URL'>,
  env: Record<string, string | undefined>,
  where = 'agents file',
): AgentDefinition[] {
  let raw: unknown;
  try {
    raw = parseYaml(text); // YAML is a superset of JSON, so this reads both
  } catch (error) {
    throw new AgentsFileError(
      `${where}: not valid YAML or JSON (${(error as Error).message.split('\n')[0]})`,
    );
  }
  const parsed = agentsFileSchema.safeParse(substituteEnv(raw, env, where));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new AgentsFileError(`${where} is invalid:\n${lines.join('\n')}`);
  }
  const names = new Set<string>();
  return parsed.data.agents.map((agent, index) => {
    if (names.has(agent.name))
      throw new AgentsFileError(`${where}: agent name "${agent.name}" appears twice`);
    names.add(agent.name);
    const credential = agent.credential;
    if (agent.cli !== 'claude-code') checkKeyedAgent(agent, `${where} agents.${index}`);
    // ANTHROPIC_BASE_URL is Claude's API; no other CLI's agents go there.
    const baseUrl = agent.base_url ?? (agent.cli === 'claude-code' ? config.ANTHROPIC_BASE_URL : undefined);
    return {
      id: agent.name,
      cli: agent.cli,
      credential:
        credential.kind === 'cloud'
          ? { kind: 'cloud', provider: credential.provider, env: credential.env }
          : { kind: credential.kind, value: credential.value },
      ...(credential.kind === 'subscription' ? { owner: credential.owner } : {}),
      limits: {
        models: agent.models ?? [config.CLAUDE_MODEL],
        maxConcurrent: agent.max_concurrent,
        windows: agent.windows.map((window, i) => ({
          name: window.name ?? `${window.metric}/${window.hours}h${i ? `#${i + 1}` : ''}`,
          metric: window.metric,
          limit: window.limit,
          hours: window.hours,
          mode: window.mode,
        })),
        ...(agent.daily_budget_usd ? { dailyBudgetUsd: agent.daily_budget_usd } : {}),
        ...(baseUrl ? { baseUrl } : {}),
      },
    };
  });
}

/** What a Codex or Gemini agent needs that a Claude one has defaults for, and what it cannot take. */
function checkKeyedAgent(agent: z.output<typeof agentDefinitionSchema>, where: string): void {
  if (!agent.models) {
    throw new AgentsFileError(
      `${where}.models: a ${agent.cli} agent lists its models (CLAUDE_MODEL, the default, is a Claude model)`,
    );
  }
  if (agent.credential.kind !== 'api_key' && agent.credential.kind !== 'gateway_token') {
    throw new AgentsFileError(
      `${where}.credential.kind: a ${agent.cli} agent takes an api_key or a gateway_token, not ${agent.credential.kind}`,
    );
  }
}

/** Replaces `${NAME}` in every string with the environment variable NAME; a missing one is an error. */
function substituteEnv(value: unknown, env: Record<string, string | undefined>, where: string): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Z][A-Z0-9_]*)\}/g, (_, name: string) => {
      const found = env[name];
      if (found === undefined) throw new AgentsFileError(`${where}: environment variable ${name} is not set`);
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((item) => substituteEnv(item, env, where));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, substituteEnv(item, env, where)]),
    );
  }
  return value;
}
