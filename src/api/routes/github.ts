import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../core/errors.ts';
import type { GitHubService } from '../../github/github-service.ts';
import { errorSchema } from '../schemas.ts';

const header = (value: string | string[] | undefined) => (typeof value === 'string' ? value : undefined);

/**
 * `POST /api/v1/github/webhooks`: where a GitHub App sends its events. The signature is the
 * authentication, checked against the raw body, so this scope reads bodies as text rather than
 * parsing them first.
 */
export async function githubRoutes(
  app: FastifyInstance,
  github: () => GitHubService | undefined,
): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  app.withTypeProvider<ZodTypeProvider>().post(
    '/github/webhooks',
    {
      config: { access: 'public' },
      schema: {
        tags: ['github'],
        summary: 'Receive a GitHub App webhook delivery',
        description:
          'Authenticated by `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with GITHUB_WEBHOOK_SECRET, or ' +
          'GITHUB_WEBHOOK_SECRET_PREVIOUS while rotating). Answers at once; the delivery is handled from the ' +
          'queue. A delivery id seen before is acknowledged and not handled again. See docs/github.md.',
        security: [],
        headers: z.object({
          'x-github-delivery': z.string().max(100).optional(),
          'x-github-event': z.string().max(100).optional(),
          'x-hub-signature-256': z.string().max(100).optional(),
        }),
        response: {
          202: z.object({ delivery: z.string(), duplicate: z.boolean() }),
          400: errorSchema,
          401: errorSchema,
          404: errorSchema,
          413: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const service = github();
      if (!service) {
        throw new AppError(
          'github_not_configured',
          'GitHub is not configured here: set GITHUB_WEBHOOK_SECRET and GITHUB_APP_ID (or GITHUB_TOKEN)',
        );
      }
      const deliveryId = header(request.headers['x-github-delivery']);
      const { duplicate } = await service.receive({
        deliveryId,
        event: header(request.headers['x-github-event']),
        signature: header(request.headers['x-hub-signature-256']),
        rawBody: typeof request.body === 'string' ? request.body : '',
      });
      return reply.status(202).send({ delivery: deliveryId ?? '', duplicate });
    },
  );
}
