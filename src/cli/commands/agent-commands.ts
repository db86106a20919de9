import type { Command } from 'commander';
import type { ApiClient } from '../api-client.ts';
import { listJson, table } from '../format.ts';

interface AgentQuotaJson {
  id: string;
  cli: string;
  credential_class: string;
  owner: string | null;
  models: string[];
  state: string;
  state_reason: string | null;
  running: number;
  max_concurrent: number;
  available: boolean;
  windows: Array<{ name: string; metric: string; used: number; limit: number; resets_at: string }>;
  cooldowns: Array<{ model: string; until: string; reason: string }>;
}

const short = (iso: string) => iso.replace('T', ' ').slice(0, 16);

/** The pool as a table: one row per agent, its CLI, credential class, state, runs, quota and cooldowns. */
export function agentTable(agents: AgentQuotaJson[]): string {
  if (agents.length === 0) return 'no agents configured (set CLAUDE_API_KEYS or AGENTS_FILE)';
  return table(
    ['AGENT', 'CLI', 'CLASS', 'STATE', 'RUNS', 'QUOTA', 'COOLDOWN'],
    agents.map((agent) => [
      agent.id,
      agent.cli,
      agent.owner ? `${agent.credential_class} (${agent.owner})` : agent.credential_class,
      agent.state === 'active'
        ? agent.available
          ? 'available'
          : 'active'
        : `${agent.state}${agent.state_reason ? `: ${agent.state_reason}` : ''}`,
      `${agent.running}/${agent.max_concurrent}`,
      agent.windows
        .map((w) => `${w.name} ${Math.round(w.used * 100) / 100}/${w.limit} (resets ${short(w.resets_at)})`)
        .join('; ') || '-',
      agent.cooldowns
        .map((c) => `${c.reason}${c.model === '*' ? '' : ` ${c.model}`} until ${short(c.until)}`)
        .join('; ') || '-',
    ]),
  );
}

export function registerAgentCommands(
  program: Command,
  client: () => ApiClient,
  out: (text: string) => void,
): void {
  const agents = program
    .command('agents')
    .description('Show the agent pool: state, runs, quota windows and cooldowns')
    .option('--json', 'print as JSON')
    .action(async (flags: { json?: boolean }) => {
      const { items } = await client().request<{ items: AgentQuotaJson[] }>(
        'GET',
        '/api/v1/agents/quota/status',
      );
      out(flags.json ? listJson(items) : agentTable(items));
    });

  for (const [name, description] of [
    ['pause', 'Pause an agent: no new attempts start on it'],
    ['resume', 'Resume a paused or disabled agent'],
    ['reset-quota', 'Forget an agent’s usage so far and its cooldowns'],
  ] as const) {
    agents
      .command(name)
      .description(description)
      .argument('<agent>', 'agent name')
      .option('--json', 'print the agent as JSON')
      .action(async (id: string, flags: { json?: boolean }) => {
        const agent = await client().request<AgentQuotaJson>(
          'POST',
          `/api/v1/agents/${encodeURIComponent(id)}/${name}`,
        );
        out(flags.json ? JSON.stringify(agent, null, 2) : agentTable([agent]));
      });
  }
}
