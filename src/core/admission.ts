import type { QuotaMetric, Usage } from './quota.ts';

/**
 * Which agent runs a task, or why none can now. Pure: it sees a snapshot of the pool and the clock
 * and explains every agent it turned down, so the decision can be recorded on the attempt.
 *
 * An agent is eligible when it runs the task's CLI and model, its credential class allows this
 * submitter (a personal subscription seat serves only its owner), it is neither paused nor
 * disabled nor cooling down for the model, it has a free run slot, and every quota window has room
 * for the task's estimated use. Among eligible agents: the one the task ran on before (session
 * affinity), then agents without a quota warning, then the most headroom, then the soonest reset
 * (use quota that would otherwise expire), then the fewest runs, then the name.
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
  cli: string;
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

export type AdmissionDecision =
  | { kind: 'admit'; agentId: string; model: string; verdicts: AgentVerdict[]; reason: string }
  /** No agent now; `until` is the earliest moment one could be (undefined: when capacity or an operator frees one). */
  | { kind: 'park'; until?: Date; verdicts: AgentVerdict[]; reason: string }
  /** No agent will ever be able to (none configured for this CLI/model/submitter, or all disabled). */
  | { kind: 'reject'; verdicts: AgentVerdict[]; reason: string };

/** Whether a cooldown recorded for `cooldownModel` covers `model` (`*` covers all; a family name covers its models). */
export function cooldownCovers(cooldownModel: string, model: string): boolean {
  return cooldownModel === '*' || model === cooldownModel || model.includes(cooldownModel);
}

export function admit(task: TaskDemand, agents: AgentSnapshot[], now: Date): AdmissionDecision {
  const verdicts = agents.map((agent) => judge(agent, task, now));
  const eligible = verdicts.filter((verdict) => verdict.eligible);
  if (eligible.length > 0) {
    const byId = new Map(agents.map((agent) => [agent.id, agent]));
    const ranked = [...eligible].sort((a, b) => compare(a, b, byId, task, now));
    const chosen = ranked[0]!;
    const agent = byId.get(chosen.agentId)!;
    const model = task.model ?? agent.models[0]!;
    const reason =
      chosen.agentId === task.previousAgentId
        ? 'session affinity: the agent of the previous attempt'
        : eligible.length === 1
          ? 'the only eligible agent'
          : `most headroom (${Math.round((chosen.headroom ?? 1) * 100)}% left) of ${eligible.length} eligible agents`;
    return { kind: 'admit', agentId: chosen.agentId, model, verdicts, reason };
  }
  const fitting = agents.filter((agent) => structurallyFits(agent, task));
  if (fitting.length === 0) {
    return {
      kind: 'reject',
      verdicts,
      reason:
        agents.length === 0
          ? 'no agents are configured'
          : 'no agent runs this CLI and model for this submitter',
    };
  }
  const usable = fitting.filter((agent) => agent.state !== 'disabled');
  if (usable.length === 0) {
    return { kind: 'reject', verdicts, reason: 'every agent that could run this task is disabled' };
  }
  const times = verdicts
    .filter((verdict) => usable.some((agent) => agent.id === verdict.agentId) && verdict.availableAt)
    .map((verdict) => verdict.availableAt!.getTime());
  const timeBound = usable.every((agent) => verdicts.find((v) => v.agentId === agent.id)?.availableAt);
  // Only when every usable agent waits for a time is that time the wake-up; an agent waiting for a
  // free slot or an operator wakes the task sooner, through the pool.
  const until = timeBound && times.length ? new Date(Math.min(...times)) : undefined;
  return {
    kind: 'park',
    ...(until ? { until } : {}),
    verdicts,
    reason: until ? `no agent can take it before ${until.toISOString()}` : 'every agent is busy or paused',
  };
}

function structurallyFits(agent: AgentSnapshot, task: TaskDemand): boolean {
  if (agent.cli !== task.cli) return false;
  if (task.model && !agent.models.includes(task.model)) return false;
  if (agent.credentialClass === 'subscription' && agent.owner !== task.submittedBy) return false;
  return true;
}

function judge(agent: AgentSnapshot, task: TaskDemand, now: Date): AgentVerdict {
  const blockers: string[] = [];
  let availableAt: Date | undefined;
  const later = (at: Date) => {
    if (!availableAt || at > availableAt) availableAt = at;
  };
  if (agent.cli !== task.cli) blockers.push(`runs ${agent.cli}, not ${task.cli}`);
  if (task.model && !agent.models.includes(task.model)) blockers.push(`does not offer model ${task.model}`);
  if (agent.credentialClass === 'subscription' && agent.owner !== task.submittedBy) {
    blockers.push(`personal subscription seat of ${agent.owner}; not pooled for ${task.submittedBy}`);
  }
  if (agent.state === 'paused') blockers.push(`paused${agent.stateReason ? `: ${agent.stateReason}` : ''}`);
  if (agent.state === 'disabled')
    blockers.push(`disabled${agent.stateReason ? `: ${agent.stateReason}` : ''}`);
  const model = task.model ?? agent.models[0] ?? '';
  for (const cooldown of agent.cooldowns) {
    if (cooldown.until > now && cooldownCovers(cooldown.model, model)) {
      blockers.push(`cooling down (${cooldown.reason}) until ${cooldown.until.toISOString()}`);
      later(cooldown.until);
    }
  }
  if (agent.running >= agent.maxConcurrent) blockers.push(`all ${agent.maxConcurrent} run slots busy`);
  let headroom = 1;
  for (const window of agent.windows) {
    const after = window.used + task.estimate[window.metric];
    if (after > window.limit) {
      blockers.push(
        `${window.name}: ${fmt(window.used)} of ${fmt(window.limit)} ${window.metric} used, needs ${fmt(task.estimate[window.metric])} more`,
      );
      later(window.resetsAt);
    } else {
      headroom = Math.min(headroom, (window.limit - after) / window.limit);
    }
  }
  // A time to wait for exists only when the blockers pass with time (cooldowns, windows) or with a
  // finished run (busy slots); a paused, disabled or unsuitable agent has none.
  const onlyTimeBound =
    availableAt !== undefined &&
    blockers.every(
      (b) => b.startsWith('cooling down') || / used, needs /.test(b) || / run slots busy$/.test(b),
    );
  return {
    agentId: agent.id,
    eligible: blockers.length === 0,
    blockers,
    ...(onlyTimeBound && availableAt ? { availableAt } : {}),
    ...(blockers.length === 0 ? { headroom } : {}),
  };
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
  const warned = (id: string) => Number((agents.get(id)!.warningUntil ?? now) > now);
  const warning = warned(a.agentId) - warned(b.agentId);
  if (warning) return warning;
  const headroom = (b.headroom ?? 1) - (a.headroom ?? 1);
  if (Math.abs(headroom) > 1e-9) return headroom;
  const reset = (id: string) =>
    Math.min(...agents.get(id)!.windows.map((w) => w.resetsAt.getTime()), Number.MAX_SAFE_INTEGER);
  const soonest = reset(a.agentId) - reset(b.agentId);
  if (soonest) return soonest;
  const load = agents.get(a.agentId)!.running - agents.get(b.agentId)!.running;
  if (load) return load;
  return a.agentId.localeCompare(b.agentId);
}

function fmt(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(4);
}
