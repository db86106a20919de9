import { randomUUID } from 'node:crypto';
import { appendAudit } from '../audit/audit-log.ts';
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

/**
 * Inside the transaction that starts `lead`'s attempt: takes up to `size - 1` queued companions
 * (see claimBatchCompanions) into the same agent session. Each gets its own attempt, pointing at
 * the lead's, and the lead's dispatch job: its own job then finds itself superseded and does
 * nothing, `finish` accepts the batch's result for it, and if the lead's worker is lost the job's
 * redelivery recovers it together with the lead. Only a lead that is queued takes companions, so
 * a retry always runs alone and one bad item cannot fail a batch again and again.
 */
export async function joinBatch(
  tx: Tx,
  lead: { task: TaskRow; attempt: AttemptRow; statusBefore: TaskRow['status'] },
  size: number,
  now: Date,
): Promise<{ members: BatchMember[]; events: TaskEventMessage[] }> {
  if (size <= 1 || !lead.task.batchKey || lead.statusBefore !== 'queued') return { members: [], events: [] };
  const companions = await claimBatchCompanions(tx, lead.task, size - 1, now);
  const members: BatchMember[] = [];
  const events: TaskEventMessage[] = [];
  for (const companion of companions) {
    const started = transition(companion.status, 'start');
    if (!started.ok) continue;
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
      // No admission of its own: the lead's holds the agent slot and the usage estimate.
      admission: null,
      sessionId: lead.attempt.sessionId,
      model: lead.attempt.model,
      startedAt: now,
      batchLeadAttemptId: lead.attempt.id,
    });
    const running = await store.updateTask(tx, companion.id, {
      status: started.to,
      dispatchJobId: lead.attempt.jobId,
      startedAt: companion.startedAt ?? now,
      parkedUntil: null,
      parkReason: null,
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
