import { priceFor } from './pricing.ts';
import type { QuotaMetric, Usage } from './quota.ts';

/**
 * Which agent runs a task, or why none can now. Pure: it sees a snapshot of the pool and the clock
 * and explains every agent it turned down, so the decision can be recorded on the attempt.
 *
 * An agent is eligible when it runs the task's model (and its CLI, when the task needs one), its
 * credential class allows this submitter (a personal subscription seat serves only its owner), it
 * is neither paused nor disabled nor cooling down for the model, it has a free run slot, and every
 * quota window has room for the task's estimated use. Among eligible agents: the one the task ran
 * on before (session affinity), then agents of the CLI the submission prefers, then agents without
 * a quota warning, then the most headroom, then the soonest reset (use quota that would otherwise
 * expire), then the cheaper model (by the price table), then the fewest runs, then the name.
 */

export type CredentialClass = 'api_key' | 'gateway_token' | 'cloud' | 'subscription';

export interface WindowState {
  name: string;
  metric: QuotaMetric;
  limit: number;
  /** Use inside the current window, including what running attempts are expected to use. */
  used: number;
  resetsAt: Date;
}

export interface AgentSnapshot {
  id: string;
  cli: string;
  credentialClass: CredentialClass;
  /** Owner of a personal subscription seat. */
  owner?: string;
  models: string[];
  maxConcurrent: number;
  state: 'active' | 'paused' | 'disabled';
  stateReason?: string;
  running: number;
  cooldowns: Array<{ model: string; until: Date; reason: string }>;
  windows: WindowState[];
  /** A subscription window reported `allowed_warning`: prefer other agents until then. */
  warningUntil?: Date;
}

export interface TaskDemand {
  /** The agent CLI the task must run on; undefined: any. */
  cli?: string;
  /** The agent CLI the submission prefers: its agents come first, others take the task when none can. */
  preferredCli?: string;
  /** The model the task needs; undefined means each agent's first (default) model. */
  model?: string;
  submittedBy: string;
  estimate: Usage;
  /** The agent the task's last attempt ran on (its session lives there). */
  previousAgentId?: string;
}

export interface AgentVerdict {
  agentId: string;
  eligible: boolean;
  /** Why it is not eligible, in plain words; empty when eligible. */
  blockers: string[];
  /** When it could take the task, if waiting would help (cooldown end, window reset). */
  availableAt?: Date;
  /** Smallest share of a window left after this task (1 without windows). */
  headroom?: number;
}

/**
 * Why a task that has not started is not running yet. `slot`: every agent that can run it is busy;
 * the task stays queued and starts when a run slot frees. The others park it: `quota` (cooling
 * down, or a request/token window is full), `budget` (a dollar window or budget is spent),
 * `no_agent` (no agent that is enabled can run it: none configured, all disabled or paused).
 */
export const WAIT_REASONS = ['slot', 'quota', 'budget', 'no_agent'] as const;
export type WaitReason = (typeof WAIT_REASONS)[number];
export type ParkReason = Exclude<WaitReason, 'slot'>;

export type AdmissionDecision =
  | { kind: 'admit'; agentId: string; model: string; verdicts: AgentVerdict[]; reason: string }
  /** Every agent that could take it is busy: the task stays queued until a run slot frees. */
  | { kind: 'wait'; verdicts: AgentVerdict[]; reason: string }
  /**
   * No agent now. `until`: the earliest moment one could be (a cooldown ends, a window resets);
   * undefined when only an operator can change that (`no_agent`).
   */
  | { kind: 'park'; because: ParkReason; until?: Date; verdicts: AgentVerdict[]; reason: string };

/** Whether a cooldown recorded for `cooldownModel` covers `model` (`*` covers all; a family name covers its models). */
export function cooldownCovers(cooldownModel: string, model: string): boolean {
  return cooldownModel === '*' || model === cooldownModel || model.includes(cooldownModel);
}

export function admit(task: TaskDemand, agents: AgentSnapshot[], now: Date): AdmissionDecision {
  const judged = agents.map((agent) => judge(agent, task, now));
  const verdicts = judged.map(({ verdict }) => verdict);
  const eligible = verdicts.filter((verdict) => verdict.eligible);
  if (eligible.length > 0) {
    const byId = new Map(agents.map((agent) => [agent.id, agent]));
    const ranked = [...eligible].sort((a, b) => compare(a, b, byId, task, now));
    const chosen = ranked[0]!;
    const agent = byId.get(chosen.agentId)!;
    const model = task.model ?? agent.models[0]!;
    const why =
      chosen.agentId === task.previousAgentId
        ? 'session affinity: the agent of the previous attempt'
        : eligible.length === 1
          ? 'the only eligible agent'
          : `most headroom (${Math.round((chosen.headroom ?? 1) * 100)}% left) of ${eligible.length} eligible agents`;
    const failover =
      task.preferredCli && agent.cli !== task.preferredCli && chosen.agentId !== task.previousAgentId
        ? `no ${task.preferredCli} agent can take it now, so ${agent.cli}: `
        : '';
    return { kind: 'admit', agentId: chosen.agentId, model, verdicts, reason: `${failover}${why}` };
  }
  if (judged.some(({ waitsFor }) => waitsFor === 'slot')) {
    return {
      kind: 'wait',
      verdicts,
      reason: 'every agent that can run it is busy: it starts when a run slot frees',
    };
  }
  const timed = judged.filter(({ verdict }) => verdict.availableAt);
  if (timed.length > 0) {
    const earliest = timed.reduce((a, b) => (b.verdict.availableAt! < a.verdict.availableAt! ? b : a));
    const until = earliest.verdict.availableAt!;
    const because = earliest.waitsFor === 'budget' ? 'budget' : 'quota';
    return {
      kind: 'park',
      because,
      until,
      verdicts,
      reason: `${because === 'budget' ? 'budget spent' : 'out of quota'}: no agent can take it before ${until.toISOString()}`,
    };
  }
  return { kind: 'park', because: 'no_agent', verdicts, reason: noAgentReason(agents, task) };
}

/** What stands between the task and any agent that could run it, and what an operator can do. */
function noAgentReason(agents: AgentSnapshot[], task: TaskDemand): string {
  if (agents.length === 0) {
    return 'no agents are configured: set CLAUDE_API_KEYS or AGENTS_FILE and restart the supervisor';
  }
  const fitting = agents.filter((agent) => structurallyFits(agent, task));
  if (fitting.length === 0) {
    return (
      `no agent ${task.cli ? `runs ${task.cli}` : 'can run it'}${task.model ? ` with model ${task.model}` : ''} for ${task.submittedBy}: ` +
      'add one to AGENTS_FILE (a personal subscription seat serves only its owner)'
    );
  }
  const names = fitting.map((agent) => agent.id).join(', ');
  return (
    `no enabled agent can run it (${names}: ${fitting.map((agent) => agent.state).join(', ')}): ` +
    `fix a disabled agent's credential, then run \`supervisor agents resume <id>\` (or resume a paused one)`
  );
}

function structurallyFits(agent: AgentSnapshot, task: TaskDemand): boolean {
  if (task.cli && agent.cli !== task.cli) return false;
  if (task.model && !agent.models.includes(task.model)) return false;
  if (agent.credentialClass === 'subscription' && agent.owner !== task.submittedBy) return false;
  return true;
}

/**
 * One agent's verdict on the task, and what it waits for when it is not eligible: `slot` (only
 * busy), `quota` or `budget` (a time: cooldowns, windows), or `operator` (paused, disabled, unfit).
 */
function judge(
  agent: AgentSnapshot,
  task: TaskDemand,
  now: Date,
): { verdict: AgentVerdict; waitsFor?: 'slot' | 'quota' | 'budget' | 'operator' } {
  const blockers: string[] = [];
  const never: string[] = [];
  let availableAt: Date | undefined;
  let budgetOnly = true;
  const later = (at: Date, budget: boolean) => {
    if (!availableAt || at > availableAt) availableAt = at;
    budgetOnly &&= budget;
  };
  if (task.cli && agent.cli !== task.cli) never.push(`runs ${agent.cli}, not ${task.cli}`);
  if (task.model && !agent.models.includes(task.model)) never.push(`does not offer model ${task.model}`);
  if (agent.credentialClass === 'subscription' && agent.owner !== task.submittedBy) {
    never.push(`personal subscription seat of ${agent.owner}; not pooled for ${task.submittedBy}`);
  }
  if (agent.state === 'paused') never.push(`paused${agent.stateReason ? `: ${agent.stateReason}` : ''}`);
  if (agent.state === 'disabled') never.push(`disabled${agent.stateReason ? `: ${agent.stateReason}` : ''}`);
  blockers.push(...never);
  const model = task.model ?? agent.models[0] ?? '';
  for (const cooldown of agent.cooldowns) {
    if (cooldown.until > now && cooldownCovers(cooldown.model, model)) {
      blockers.push(`cooling down (${cooldown.reason}) until ${cooldown.until.toISOString()}`);
      later(cooldown.until, false);
    }
  }
  const busy = agent.running >= agent.maxConcurrent;
  if (busy) blockers.push(`all ${agent.maxConcurrent} run slots busy`);
  let headroom = 1;
  for (const window of agent.windows) {
    // A window smaller than one task's estimate still runs one task when nothing else uses it:
    // otherwise it would park every task in every period.
    const need = Math.min(task.estimate[window.metric], window.limit);
    const after = window.used + need;
    if (after > window.limit) {
      blockers.push(
        `${window.name}: ${fmt(window.used)} of ${fmt(window.limit)} ${window.metric} used, needs ${fmt(need)} more`,
      );
      later(window.resetsAt, window.metric === 'usd');
    } else {
      headroom = Math.min(headroom, (window.limit - after) / window.limit);
    }
  }
  const verdict: AgentVerdict = {
    agentId: agent.id,
    eligible: blockers.length === 0,
    blockers,
    // A time to wait for exists only when no operator has to act first.
    ...(availableAt && never.length === 0 ? { availableAt } : {}),
    ...(blockers.length === 0 ? { headroom } : {}),
  };
  if (verdict.eligible) return { verdict };
  if (never.length > 0) return { verdict, waitsFor: 'operator' };
  if (availableAt) return { verdict, waitsFor: budgetOnly ? 'budget' : 'quota' };
  return { verdict, waitsFor: busy ? 'slot' : 'operator' };
}

function compare(
  a: AgentVerdict,
  b: AgentVerdict,
  agents: Map<string, AgentSnapshot>,
  task: TaskDemand,
  now: Date,
): number {
  const affinity = Number(b.agentId === task.previousAgentId) - Number(a.agentId === task.previousAgentId);
  if (affinity) return affinity;
  const preferred = (id: string) => Number(agents.get(id)!.cli === task.preferredCli);
  const preference = preferred(b.agentId) - preferred(a.agentId);
  if (preference) return preference;
  const warned = (id: string) => Number((agents.get(id)!.warningUntil ?? now) > now);
  const warning = warned(a.agentId) - warned(b.agentId);
  if (warning) return warning;
  const headroom = (b.headroom ?? 1) - (a.headroom ?? 1);
  if (Math.abs(headroom) > 1e-9) return headroom;
  const reset = (id: string) =>
    Math.min(...agents.get(id)!.windows.map((w) => w.resetsAt.getTime()), Number.MAX_SAFE_INTEGER);
  const soonest = reset(a.agentId) - reset(b.agentId);
  if (soonest) return soonest;
  const cheaper = modelPrice(agents.get(a.agentId)!, task) - modelPrice(agents.get(b.agentId)!, task);
  if (cheaper) return cheaper;
  const load = agents.get(a.agentId)!.running - agents.get(b.agentId)!.running;
  if (load) return load;
  return a.agentId.localeCompare(b.agentId);
}

/** What a million tokens in and a million out cost on the model the agent would run the task with. */
function modelPrice(agent: AgentSnapshot, task: TaskDemand): number {
  const { price } = priceFor(task.model ?? agent.models[0] ?? '');
  return price.input + price.output;
}

function fmt(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(4);
}
