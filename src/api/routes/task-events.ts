import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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

/** An SSE response taken over from Fastify, with a heartbeat; ends when either side is done. */
interface EventStream {
  /** Writes unless ended; a client that has stopped reading (too much buffered) is let go. */
  write(text: string): void;
  end(): void;
  readonly ended: boolean;
  readonly raw: ServerResponse;
}

type OpenEventStream = (request: FastifyRequest, reply: FastifyReply, onEnd: () => void) => EventStream;

/**
 * Event streams of this app. They are ended when the app closes: an open stream would otherwise
 * keep the server (and a supervisor's shutdown) waiting for a client that may never hang up.
 */
function eventStreams(app: FastifyInstance): OpenEventStream {
  const open = new Set<EventStream>();
  app.addHook('preClose', async () => {
    for (const stream of open) stream.end();
  });
  return (request, reply, onEnd) => {
    const stream = openEventStream(request, reply, () => {
      open.delete(stream);
      onEnd();
    });
    open.add(stream);
    return stream;
  };
}

function openEventStream(request: FastifyRequest, reply: FastifyReply, onEnd: () => void): EventStream {
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
  let ended = false;
  const stream: EventStream = {
    raw,
    get ended() {
      return ended;
    },
    write(text) {
      if (ended) return;
      raw.write(text);
      if (raw.writableLength > MAX_BUFFERED_BYTES) stream.end();
    },
    end() {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      onEnd();
      raw.end();
    },
  };
  const heartbeat = setInterval(() => stream.write(': ping\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  request.raw.on('close', () => stream.end());
  return stream;
}

const sseErrors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 503: errorSchema };

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
  const openStream = eventStreams(app);
  taskChangesRoute(app, deps.bus, openStream);
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
          ...sseErrors,
          404: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const taskId = request.params.id;
      await deps.tasks().get(taskId); // 404 for an unknown task, before the stream starts
      const header = request.headers['last-event-id'];
      let lastId = header !== undefined ? Number(header) : (request.query.after ?? 0);

      const stream = openStream(request, reply, () => {
        unsubscribe();
        offReconnect();
      });
      const { raw } = stream;

      // While reading from the store, live messages wait in `pending`; ids make the merge exact.
      let syncing = true;
      const pending: TaskEventMessage[] = [];
      const send = (message: TaskEventMessage) => {
        if (stream.ended || message.id <= lastId) return;
        lastId = message.id;
        stream.write(sseFrame(message));
        if (isTerminalStatusEvent(message)) stream.end();
      };
      const drained = () =>
        stream.ended || raw.writableLength < REPLAY_HIGH_WATER_BYTES
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
          if (page.length < REPLAY_PAGE || stream.ended) break;
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
          for (let pauseMs = 250; !stream.ended; pauseMs = Math.min(pauseMs * 2, 5000)) {
            try {
              return await catchUp();
            } catch (error) {
              request.log.warn({ err: error }, 'event stream catch-up failed; retrying');
              await new Promise((resolve) => setTimeout(resolve, pauseMs));
            }
          }
        })();
      });

      try {
        await catchUp();
        if (stream.ended) return;
        stream.write(`event: replay_complete\ndata: ${JSON.stringify({ last_event_id: lastId })}\n\n`);
        const { task } = await deps.tasks().get(taskId);
        if (isTerminal(task.status)) {
          // The task is over; its final events are stored even if their live copies are still on the way.
          await catchUp();
          stream.end();
        }
      } catch (error) {
        request.log.error({ err: error }, 'event stream failed');
        stream.end();
      }
    },
  );
}

/**
 * `GET /api/v1/tasks/changes`: every task's status changes, live, as Server-Sent Events: what a
 * list needs to stay current without fetching it again and again. Each connection opens with a
 * `ready` event (a client loads its list after it, so no later change is missed) and gets a
 * `resync` event when the bus may have dropped messages (reload the list then). Nothing is
 * replayed: history is what the list endpoints are for.
 */
function taskChangesRoute(app: FastifyInstance, bus: () => EventBus, openStream: OpenEventStream): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/tasks/changes',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['tasks'],
        summary: 'Stream every task’s status changes (Server-Sent Events), live only',
        description:
          'Opens with a `ready` event: load the list you keep current after it. Then one `status` event per ' +
          'status change of any task, shaped like those of `/tasks/{id}/events` (`data.task_id`, ' +
          '`data.data.status`, `outcome`, `error`). A `resync` event means changes may have been missed (the ' +
          'event bus reconnected): load the list again. Nothing is replayed on reconnect.',
        response: {
          200: {
            description:
              'Server-Sent Events: `ready`, then `status` events (`id` the stored event id, `data` a JSON object: id, task_id, attempt_id, type, data, created_at), and `resync` when changes may have been missed',
            content: { 'text/event-stream': { schema: z.string() } },
          },
          ...sseErrors,
        },
      },
    },
    async (request, reply) => {
      const stream = openStream(request, reply, () => {
        unsubscribe();
        offReconnect();
      });
      const unsubscribe = bus().subscribeStatus((message) => stream.write(sseFrame(message)));
      const offReconnect = bus().onReconnect(() => stream.write('event: resync\ndata: {}\n\n'));
      stream.write('event: ready\ndata: {}\n\n');
    },
  );
}
