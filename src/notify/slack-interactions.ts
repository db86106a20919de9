import { createHmac, timingSafeEqual } from 'node:crypto';
import { SLACK_APPROVAL_ACTIONS } from './message.ts';

/**
 * Slack's interactivity requests (a person pressed Approve or Deny under an approval
 * notification). Pure: the signature check and reading what was pressed.
 * https://api.slack.com/authentication/verifying-requests-from-slack
 */

/** Older requests are refused, so a captured one cannot be replayed later. */
const MAX_AGE_SECONDS = 5 * 60;

/** Whether `signature` (X-Slack-Signature) signs `rawBody` sent at `timestamp` (X-Slack-Request-Timestamp). */
export function slackSignatureProblem(
  secret: string,
  request: { timestamp: string | undefined; signature: string | undefined; rawBody: string },
  nowSeconds: number,
): string | undefined {
  const { timestamp, signature, rawBody } = request;
  if (!timestamp || !signature) return 'X-Slack-Request-Timestamp and X-Slack-Signature are required';
  const sent = Number(timestamp);
  if (!Number.isInteger(sent) || Math.abs(nowSeconds - sent) > MAX_AGE_SECONDS) {
    return 'X-Slack-Request-Timestamp is more than 5 minutes away from now';
  }
  const expected = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`;
  const given = Buffer.from(signature);
  const wanted = Buffer.from(expected);
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
    return 'X-Slack-Signature does not match the body (check SLACK_SIGNING_SECRET)';
  }
  return undefined;
}

export interface ApprovalPress {
  approve: boolean;
  taskId: string;
  approvalId: string;
  /** Slack's user id (U…) of who pressed, and their name for the audit trail. */
  userId: string;
  userName: string;
  /** Where the message that carried the buttons can be updated. */
  responseUrl?: string;
}

/** What was pressed, from the form-encoded body; an error names what is missing. */
export function readApprovalPress(rawBody: string): ApprovalPress | { error: string } {
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(new URLSearchParams(rawBody).get('payload') ?? '');
  } catch {
    return { error: 'expected a form body with a `payload` field holding JSON' };
  }
  const action = (Array.isArray(payload.actions) ? payload.actions[0] : undefined) as
    | { action_id?: unknown; value?: unknown }
    | undefined;
  const user = (payload.user ?? {}) as { id?: unknown; username?: unknown; name?: unknown };
  const approve = action?.action_id === SLACK_APPROVAL_ACTIONS.approve;
  if (payload.type !== 'block_actions' || (!approve && action?.action_id !== SLACK_APPROVAL_ACTIONS.deny)) {
    return { error: 'not an Approve or Deny button of a supervisor approval' };
  }
  const [taskId, approvalId] = String(action?.value ?? '').split(':');
  if (!taskId || !approvalId || typeof user.id !== 'string') {
    return { error: 'the button names no task and approval, or the payload no user' };
  }
  return {
    approve,
    taskId,
    approvalId,
    userId: user.id,
    userName: String(user.username ?? user.name ?? user.id),
    ...(typeof payload.response_url === 'string' ? { responseUrl: payload.response_url } : {}),
  };
}
