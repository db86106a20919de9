import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Notifier } from '../../notify/notifier.ts';
import { CHANNEL_NAMES } from '../../notify/rules.ts';
import { errorSchema } from '../schemas.ts';

const resultSchema = z.object({
  channel: z.enum(CHANNEL_NAMES),
  ok: z.boolean(),
  error: z.string().optional().describe('Why the channel refused or could not be reached'),
  latency_ms: z.number().int(),
});

export function notificationRoutes(app: FastifyInstance, notifier: () => Notifier): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/notifications/test',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['notifications'],
        summary: 'Send a test message on every configured channel now, and report how each went',
        description:
          'Not queued: each channel is tried once, so the answer says whether it works right now. ' +
          '`items` is empty when no channel is configured.',
        response: {
          200: z.object({ items: z.array(resultSchema) }),
          401: errorSchema,
          403: errorSchema,
          503: errorSchema,
        },
      },
    },
    async () => ({ items: await notifier().sendTest() }),
  );
}
