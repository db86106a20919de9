import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isTerminal, type TaskStatus } from '../../core/task-status.ts';
import type { EventBus, TaskEventMessage } from '../../events/bus.ts';
import type { TaskService } from '../../tasks/task-service.ts';
import { errorSchema } from '../schemas.ts';

/** A comment line this often keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;
const REPLAY_PAGE = 500;
/** A client that stops reading loses its stream rather than our memory; it can resume by id. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** A replay waits for the client to read once this much is buffered. */
const REPLAY_HIGH_WATER_BYTES = 1024 * 1024;

export function sseFrame(message: TaskEventMessage): string {
  const data = {
    id: message.id,
    task_id: message.taskId,
    attempt_id: message.attemptId,
    type: message.type,
    data: message.data,
    created_at: message.createdAt.toISOString(),
  };
  // Event names must not contain line breaks (they would end the field); ids are numbers.
  return `id: ${message.id}\nevent: ${message.type.replace(/[\r\n]/g, ' ')}\ndata: ${JSON.stringify(data)}\n\n`;
}

const isTerminalStatusEvent = (message: TaskEventMessage) =>
  message.type === 'status' && isTerminal((message.data as { status: TaskStatus }).status);

/**
 * `GET /api/v1/tasks/{id}/events`: every stored event of the task as Server-Sent Events, then live
 * ones as they happen. Ids are the stored event ids, so a client reconnecting with
 * `Last-Event-ID` (or `?after=`) resumes exactly after the last event it saw. The live
 * subscription starts before the replay and events are de-duplicated by id, so nothing falls in
 * the gap between the two. After the replay comes an `replay_complete` event; the stream ends
 * after the task's final status event.
 */
export function taskEventRoutes(
  app: FastifyInstance,
  deps: { tasks: () => TaskService; bus: () => EventBus },
): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/tasks/:id/events',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['tasks'],
        summary: 'Stream the task’s events (Server-Sent Events), history first, then live',
        description:
          'Each SSE message has `id` (the stored event id), `event` (the event type, e.g. `status`, `assistant`, ' +
          '`system/init`, `result`) and `data` (JSON: id, task_id, attempt_id, type, data, created_at). Send ' +
          '`Last-Event-ID` or `?after=<id>` to resume. For a task still in progress a `replay_complete` event ' +
          'marks the end of history and live events follow; the stream closes after the final status event ' +
          '(at once, for a task that has already finished).',
        params: z.object({ id: z.uuid({ error: 'expected a task id (UUID)' }) }),
        querystring: z.object({ after: z.coerce.number().int().min(0).optional() }),
        headers: z.object({
          'last-event-id': z
            .string()
            .regex(/^\d{1,15}$/, { error: 'expected an event id this server sent (digits)' })
            .optional(),
        }),
        response: {
          200: {
            description:
              'Server-Sent Events: `id` (the stored event id), `event` (its type) and `data` (a JSON object: id, task_id, attempt_id, type, data, created_at); a `replay_complete` event after the stored ones; the stream ends after the final status',
            content: { 'text/event-stream': { schema: z.string() } },
          },
          401: errorSchema,
          403: errorSchema,
          404: errorSchema,
          400: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const taskId = request.params.id;
      await deps.tasks().get(taskId); // 404 for an unknown task, before the stream starts
      const header = request.headers['last-event-id'];
      let lastId = header !== undefined ? Number(header) : (request.query.after ?? 0);

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
      });
      raw.write('retry: 2000\n\n');

      // While reading from the store, live messages wait in `pending`; ids make the merge exact.
      let syncing = true;
      let closed = false;
      const pending: TaskEventMessage[] = [];
      const finish = () => {
        if (closed) return;
        closed = true;
        unsubscribe();
        offReconnect();
        clearInterval(heartbeat);
        raw.end();
      };
      const send = (message: TaskEventMessage) => {
        if (closed || message.id <= lastId) return;
        lastId = message.id;
        raw.write(sseFrame(message));
        if (raw.writableLength > MAX_BUFFERED_BYTES) return finish();
        if (isTerminalStatusEvent(message)) finish();
      };
      const drained = () =>
        closed || raw.writableLength < REPLAY_HIGH_WATER_BYTES
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              raw.once('drain', resolve);
              raw.once('close', resolve);
            });
      const unsubscribe = deps
        .bus()
        .subscribe(taskId, (message) => (syncing ? pending.push(message) : send(message)));
      /**
       * Sends what the store holds after the last event sent, then what arrived live meanwhile. If
       * the store cannot be read, live messages keep waiting so nothing is sent out of order.
       */
      const catchUp = async () => {
        syncing = true;
        for (;;) {
          const page = await deps.tasks().events(taskId, { afterId: lastId, limit: REPLAY_PAGE });
          for (const message of page) send(message);
          if (page.length < REPLAY_PAGE || closed) break;
          // The client's reading paces a long replay, and between pages the rest of the process
          // (lease renewals, other requests) gets its turn: a replay never starves the worker.
          await drained();
          await new Promise((resolve) => setImmediate(resolve));
        }
        pending.sort((a, b) => a.id - b.id);
        for (const message of pending.splice(0)) send(message);
        syncing = false;
      };
      // The bus may have dropped messages during an outage: the store has them. The store itself may
      // be briefly down too (both restarting), so the catch-up is retried until it succeeds.
      const offReconnect = deps.bus().onReconnect(() => {
        void (async () => {
          for (let pauseMs = 250; !closed; pauseMs = Math.min(pauseMs * 2, 5000)) {
            try {
              return await catchUp();
            } catch (error) {
              request.log.warn({ err: error }, 'event stream catch-up failed; retrying');
              await new Promise((resolve) => setTimeout(resolve, pauseMs));
            }
          }
        })();
      });
      const heartbeat = setInterval(() => raw.write(': ping\n\n'), HEARTBEAT_MS);
      heartbeat.unref();
      request.raw.on('close', finish);

      try {
        await catchUp();
        if (closed) return;
        raw.write(`event: replay_complete\ndata: ${JSON.stringify({ last_event_id: lastId })}\n\n`);
        const { task } = await deps.tasks().get(taskId);
        if (isTerminal(task.status)) {
          // The task is over; its final events are stored even if their live copies are still on the way.
          await catchUp();
          finish();
        }
      } catch (error) {
        request.log.error({ err: error }, 'event stream failed');
        finish();
      }
    },
  );
}
