import type { AdmissionDecision } from './admission.ts';
import type { QuotaWindow, Usage } from './quota.ts';

/** The agent CLIs the supervisor drives (src/agents/<cli>/). */
export const AGENT_CLIS = ['claude-code', 'codex', 'gemini'] as const;
export type AgentCli = (typeof AGENT_CLIS)[number];

/** An agent's limits, as stored (no secrets). */
export interface AgentLimits {
  models: string[];
  maxConcurrent: number;
  windows: QuotaWindow[];
  dailyBudgetUsd?: number;
  baseUrl?: string;
}

/** What is kept on an attempt about why it ran where it ran. */
export interface AdmissionRecord {
  decision: Omit<AdmissionDecision, 'verdicts'> & { verdicts: AdmissionDecision['verdicts'] };
  estimate: Usage;
  estimateBasis: 'repository' | 'type' | 'default';
  /**
   * Whether the attempt continues the agent session of an earlier attempt, and why (not);
   * resuming, `fromAttempt` is the attempt whose transcript it continues.
   */
  session: { id: string; resumed: boolean; note: string; fromAttempt?: string };
}
