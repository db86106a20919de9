import { randomUUID } from 'node:crypto';
import { appendAudit } from '../audit/audit-log.ts';
import type { AdmissionRecord } from '../core/agent-types.ts';
import { transition } from '../core/task-status.ts';
import type { TaskEventMessage } from '../events/bus.ts';
import { claimBatchCompanions } from '../store/batch-store.ts';
import type { Tx } from '../store/database.ts';
import type { AttemptRow, TaskRow } from '../store/schema.ts';
import * as store from '../store/task-store.ts';
import { recordStatus } from '../tasks/status-events.ts';

/** A task running as one item of another attempt's agent session, with its own attempt. */
export interface BatchMember {
  task: TaskRow;
  attempt: AttemptRow;
}

export interface BatchPolicy {
  /** The lead attempt's lease: the companions' attempts are held by the same worker, as long. */
  leaseExpiresAt: Date;
  /** Most tasks in one session (BATCH_SIZE). */
  size: number;
  /** Submitters whose tasks may share a session with each other (BATCH_SHARED_SUBMITTERS). */
  sharedSubmitters: readonly string[];
  /** The companion's own admission onto the lead's agent (AgentPool.admitCompanion), or undefined. */
  admit(
    task: TaskRow,
    agentId: string,
    session: AdmissionRecord['session'],
  ): Promise<AdmissionRecord | undefined>;
}

/**
 * Inside the transaction that starts `lead`'s attempt: takes up to `size - 1` queued companions
 * (see claimBatchCompanions) into the same agent session. Each gets its own attempt, pointing at
 * the lead's, with the lead's dispatch job and lease: its own job then finds itself superseded and
 * does nothing, `finish` accepts the batch's result for it, and if the lead's worker is lost each
 * attempt's lease runs out with the lead's and each task is recovered on its own. Only a lead that
 * is queued takes companions, so a retry always runs alone and one bad item cannot fail a batch
 * again and again.
 */
export async function joinBatch(
  tx: Tx,
  lead: { task: TaskRow; attempt: AttemptRow; statusBefore: TaskRow['status'] },
  policy: BatchPolicy,
  now: Date,
): Promise<{ members: BatchMember[]; events: TaskEventMessage[] }> {
  const leadAdmission = lead.attempt.admission;
  if (policy.size <= 1 || !lead.task.batchKey || lead.statusBefore !== 'queued' || !leadAdmission)
    return { members: [], events: [] };
  // Another submitter's task never rides in this session: it would skip its own admission and
  // budget, and might run on a personal seat that is not its submitter's.
  const submitters = policy.sharedSubmitters.includes(lead.task.submittedBy)
    ? policy.sharedSubmitters
    : [lead.task.submittedBy];
  const candidates = await claimBatchCompanions(tx, lead.task, submitters, policy.size - 1, now);
  const members: BatchMember[] = [];
  const events: TaskEventMessage[] = [];
  for (const companion of candidates) {
    const started = transition(companion.status, 'start');
    if (!started.ok) continue;
    const admission = await policy.admit(companion, lead.attempt.agentId!, leadAdmission.session);
    if (!admission) continue; // it runs on its own job, under an admission of its own
    const earlier = await store.listAttempts(tx, companion.id);
    const attempt = await store.insertAttempt(tx, {
      id: randomUUID(),
      taskId: companion.id,
      number: earlier.length + 1,
      agentId: lead.attempt.agentId,
      driver: lead.attempt.driver,
      workerId: lead.attempt.workerId,
      host: lead.attempt.host,
      jobId: lead.attempt.jobId,
      // Its own admission and estimate (charged to the agent's windows while it runs); the slot is the lead's.
      admission,
      sessionId: lead.attempt.sessionId,
      model: lead.attempt.model,
      startedAt: now,
      leaseExpiresAt: policy.leaseExpiresAt,
      batchLeadAttemptId: lead.attempt.id,
    });
    const running = await store.updateTask(tx, companion.id, {
      status: started.to,
      dispatchJobId: lead.attempt.jobId,
      startedAt: companion.startedAt ?? now,
      parkedUntil: null,
      parkReason: null,
      parkDetail: null,
      updatedAt: now,
    });
    await appendAudit(tx, {
      at: now,
      actor: 'supervisor',
      action: 'attempt.started',
      taskId: companion.id,
      agentId: lead.attempt.agentId,
      details: {
        attempt: attempt.number,
        driver: attempt.driver,
        worker: attempt.workerId,
        reason: `batched with task ${lead.task.id}`,
        batchLeadTaskId: lead.task.id,
      },
    });
    events.push(...(await recordStatus(tx, running, now)));
    members.push({ task: running, attempt });
  }
  return { members, events };
}
