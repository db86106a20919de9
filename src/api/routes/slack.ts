import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import { AppError } from '../../core/errors.ts';
import { readApprovalPress, slackSignatureProblem } from '../../notify/slack-interactions.ts';
import type { TaskService } from '../../tasks/task-service.ts';
import { readBodiesAsText } from '../raw-body.ts';
import { errorSchema } from '../schemas.ts';

/** How long the message update sent back to Slack may take. */
const RESPONSE_URL_TIMEOUT_MS = 5000;

export interface SlackSettings {
  signingSecret: string;
  /** Slack user ids allowed to decide. */
  approvers: ReadonlySet<string>;
}

/**
 * `POST /api/v1/slack/interactions`: Slack's request when someone presses Approve or Deny under an
 * approval notification. Its signature is the authentication (checked against the raw body, so
 * this scope reads bodies as text); only SLACK_APPROVERS may decide.
 */
export async function slackRoutes(
  app: FastifyInstance,
  deps: { slack: () => SlackSettings | undefined; tasks: () => TaskService; logger: Logger },
): Promise<void> {
  readBodiesAsText(app);
  app.withTypeProvider<ZodTypeProvider>().post(
    '/slack/interactions',
    {
      config: { access: 'public' },
      schema: {
        tags: ['tasks'],
        summary: 'Receive a press of an approval’s Approve or Deny button in Slack',
        description:
          'Authenticated by `X-Slack-Signature` (HMAC-SHA256 of `v0:<timestamp>:<body>` with SLACK_SIGNING_SECRET; ' +
          'requests older than 5 minutes are refused). Only Slack users listed in SLACK_APPROVERS may decide (403). ' +
          'The decision is the same as POST /api/v1/tasks/{id}/approvals/{approval_id}, by `slack:<user>`.',
        security: [],
        headers: z.object({
          'x-slack-request-timestamp': z.string().max(20).optional(),
          'x-slack-signature': z.string().max(200).optional(),
        }),
        response: {
          200: z.object({ text: z.string() }),
          400: errorSchema,
          401: errorSchema,
          403: errorSchema,
          404: errorSchema,
          409: errorSchema,
          413: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (request) => {
      const slack = deps.slack();
      if (!slack) throw new AppError('slack_not_configured', 'Slack interactions are not configured here');
      const rawBody = typeof request.body === 'string' ? request.body : '';
      const problem = slackSignatureProblem(
        slack.signingSecret,
        {
          timestamp: request.headers['x-slack-request-timestamp'],
          signature: request.headers['x-slack-signature'],
          rawBody,
        },
        Math.floor(Date.now() / 1000),
      );
      if (problem) throw new AppError('invalid_signature', problem);
      const press = readApprovalPress(rawBody);
      if ('error' in press) throw new AppError('bad_request', press.error);
      if (!slack.approvers.has(press.userId)) {
        throw new AppError(
          'forbidden',
          `Slack user ${press.userId} may not approve or deny tool calls (add them to SLACK_APPROVERS)`,
        );
      }
      const approval = await deps
        .tasks()
        .decideApproval(
          press.taskId,
          press.approvalId,
          { approve: press.approve, note: null },
          { name: `slack:${press.userName}` },
        );
      const text = `${approval.status === 'approved' ? 'Approved' : 'Denied'} by <@${press.userId}>: ${approval.tool}`;
      if (press.responseUrl) void updateMessage(press.responseUrl, text, deps.logger);
      return { text };
    },
  );
}

/** Replaces the buttons with the decision (best effort: the decision stands either way). */
async function updateMessage(url: string, text: string, logger: Logger): Promise<void> {
  try {
    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ replace_original: true, text }),
      signal: AbortSignal.timeout(RESPONSE_URL_TIMEOUT_MS),
    });
  } catch (error) {
    logger.warn({ err: error }, 'could not update the Slack message of an approval');
  }
}
