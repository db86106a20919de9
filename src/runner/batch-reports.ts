import type { AgentRunReport } from '../agents/driver.ts';
import { shareBatchSpend, splitBatchOutput } from '../core/batch-result.ts';

/**
 * One report per task of a batched agent session (in prompt order, the lead first), from the
 * session's report. Pure.
 *
 * - Spend: each task records its equal share (shareBatchSpend); the shares add up to the session's.
 * - A session that succeeded hands each task its own item of the structured output; a task whose
 *   item is missing ends that attempt `no_result` (retried: its retry runs alone).
 * - A session that did not succeed ends the same way for every task (rate limited, timed out, …).
 * - A task asked to cancel while the session ran ends cancelled, without a result: the session
 *   went on for the others, so it cannot be stopped for one of them.
 */
export function batchReports(
  report: AgentRunReport,
  cancelRequested: boolean[],
  interrupted: boolean,
): AgentRunReport[] {
  const count = cancelRequested.length;
  const shares = shareBatchSpend(
    { usage: report.usage, costUsd: report.costUsd, apiRequests: report.apiRequests ?? 0 },
    count,
  );
  const sessionResult = report.result as { structured_output?: unknown } | undefined;
  const items =
    report.outcome === 'succeeded' ? splitBatchOutput(sessionResult?.structured_output, count) : undefined;
  return shares.map((share, i): AgentRunReport => {
    // The CLI's own cost figure is for the whole session, so it is not carried into a share.
    const { result: _result, resultText, cliCostUsd: _cli, ...rest } = report;
    const base: AgentRunReport = { ...rest, ...share };
    if (cancelRequested[i] && !interrupted) {
      return {
        ...base,
        outcome: 'cancelled',
        evidence: {
          source: 'supervisor',
          signal: 'cancel',
          detail:
            'cancelled while its batch ran: the shared session went on for the other items; this item’s result was dropped',
        },
      };
    }
    const item = items?.[i];
    if (!item) return { ...base, ...(resultText !== undefined ? { resultText } : {}) };
    if (!item.ok) {
      return {
        ...base,
        outcome: 'no_result',
        error: item.error,
        evidence: { source: 'supervisor', signal: 'batch_item_missing', detail: item.error },
      };
    }
    return {
      ...base,
      resultText: JSON.stringify(item.output),
      result: { ...(sessionResult as object | undefined), structured_output: item.output },
    };
  });
}
