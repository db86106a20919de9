/**
 * What deserves telling someone, derived from the audit log: every significant state change is
 * already recorded there (in the transaction that made it), so alerts need no hooks of their own
 * and cannot be lost between the change and the message. Pure.
 */
export const ALERT_KINDS = [
  'agents_exhausted',
  'no_agent',
  'agent_disabled',
  'quota_high',
  'task_failed',
  'budget_exceeded',
  'task_needs_input',
  'approval_requested',
  'component_down',
  'component_recovered',
  'batch_finished',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];
export type Severity = 'info' | 'warning' | 'critical';

export interface Alert {
  kind: AlertKind;
  /** Alerts of one kind and key are grouped into one message. */
  groupKey: string;
  severity: Severity;
  at: Date;
  facts: Record<string, unknown>;
}

export interface AuditFacts {
  action: string;
  at: Date;
  taskId: string | null;
  agentId: string | null;
  details: unknown;
}

export function alertFromAudit(row: AuditFacts): Alert | undefined {
  const details = (row.details ?? {}) as Record<string, unknown>;
  const base = { at: row.at, facts: { ...details, taskId: row.taskId, agentId: row.agentId } };
  switch (row.action) {
    case 'agent.disabled':
      return { ...base, kind: 'agent_disabled', groupKey: row.agentId ?? '-', severity: 'critical' };
    case 'pool.exhausted':
      return { ...base, kind: 'agents_exhausted', groupKey: 'pool', severity: 'critical' };
    case 'pool.no_agent':
      return { ...base, kind: 'no_agent', groupKey: 'pool', severity: 'critical' };
    case 'agent.quota_high':
      return {
        ...base,
        kind: 'quota_high',
        groupKey: `${row.agentId}:${String(details.window)}`,
        severity: 'warning',
      };
    case 'task.failed':
      if (details.outcome === 'budget_exceeded') {
        return { ...base, kind: 'budget_exceeded', groupKey: 'budget', severity: 'warning' };
      }
      if (details.outcome === 'needs_input') {
        return { ...base, kind: 'task_needs_input', groupKey: row.taskId ?? '-', severity: 'info' };
      }
      return { ...base, kind: 'task_failed', groupKey: 'tasks', severity: 'warning' };
    case 'approval.requested':
      return { ...base, kind: 'approval_requested', groupKey: String(details.approval), severity: 'info' };
    case 'component.down':
      return { ...base, kind: 'component_down', groupKey: String(details.component), severity: 'critical' };
    case 'submission.finished':
      return {
        ...base,
        kind: 'batch_finished',
        groupKey: String(details.submission),
        severity: details.succeeded === details.tasks ? 'info' : 'warning',
      };
    case 'component.recovered':
      return { ...base, kind: 'component_recovered', groupKey: String(details.component), severity: 'info' };
    default:
      return undefined;
  }
}
