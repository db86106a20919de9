import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventBus, TaskEventMessage } from '../src/events/bus.ts';
import { MemoryEventBus } from '../src/events/memory-bus.ts';
import { RedisEventBus } from '../src/events/redis-bus.ts';
import { type PrivateServer, startPrivateRedis } from './support/services.ts';

/** One conformance suite for every event bus: what a subscriber sees must not depend on the bus. */

let redis: PrivateServer;
beforeAll(async () => {
  redis = await startPrivateRedis();
});
afterAll(() => redis?.dispose());

const silent = pino({ level: 'silent' });
const message = (id: number, taskId: string): TaskEventMessage => ({
  id,
  taskId,
  attemptId: null,
  type: 'status',
  data: { n: id },
  createdAt: new Date(1_700_000_000_000 + id),
});

/** Collects what a subscriber receives until `count` messages have arrived. */
function collect(bus: EventBus, taskId: string, count: number): Promise<TaskEventMessage[]> {
  const received: TaskEventMessage[] = [];
  return new Promise((resolve) => {
    const off = bus.subscribe(taskId, (m) => {
      received.push(m);
      if (received.length === count) {
        off();
        resolve(received);
      }
    });
  });
}

const buses: Array<[string, () => Promise<EventBus>]> = [
  ['memory', async () => new MemoryEventBus()],
  [
    'redis',
    () =>
      RedisEventBus.connect({
        url: redis.url,
        prefix: `test-${Date.now()}-${Math.random()}`,
        logger: silent,
      }),
  ],
];

describe.each(buses)('%s event bus', (_name, open) => {
  it('delivers each task’s messages to its subscribers, in order, and only theirs', async () => {
    const bus = await open();
    try {
      const a = collect(bus, 'task-a', 3);
      const b = collect(bus, 'task-b', 1);
      bus.publish([message(1, 'task-a'), message(2, 'task-b'), message(3, 'task-a')]);
      bus.publish([message(4, 'task-a')]);
      expect((await a).map((m) => m.id)).toEqual([1, 3, 4]);
      expect(await b).toEqual([message(2, 'task-b')]);
    } finally {
      await bus.close();
    }
  });

  it('delivers every task’s status events, and only those, to status subscribers', async () => {
    const bus = await open();
    try {
      const seen: TaskEventMessage[] = [];
      const off = bus.subscribeStatus((m) => seen.push(m));
      const last = collect(bus, 'task-b', 1);
      bus.publish([
        message(1, 'task-a'),
        { ...message(2, 'task-a'), type: 'assistant' },
        message(3, 'task-b'),
      ]);
      await last;
      off();
      expect(seen.map((m) => [m.id, m.taskId])).toEqual([
        [1, 'task-a'],
        [3, 'task-b'],
      ]);
    } finally {
      await bus.close();
    }
  });

  it('stops delivering after unsubscribe', async () => {
    const bus = await open();
    try {
      const seen: number[] = [];
      const off = bus.subscribe('t', (m) => seen.push(m.id));
      const later = collect(bus, 't', 2);
      bus.publish([message(1, 't')]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      off();
      bus.publish([message(2, 't')]);
      await later;
      expect(seen).toEqual([1]);
      await bus.ping();
    } finally {
      await bus.close();
    }
  });
});

describe('redis event bus across processes and outages', () => {
  it('carries messages from one connection to another (a worker to an API replica)', async () => {
    const prefix = `test-${Date.now()}`;
    const [writer, reader] = await Promise.all([
      RedisEventBus.connect({ url: redis.url, prefix, logger: silent }),
      RedisEventBus.connect({ url: redis.url, prefix, logger: silent }),
    ]);
    try {
      const received = collect(reader, 'x', 2);
      writer.publish([message(10, 'x'), message(11, 'x')]);
      expect((await received).map((m) => [m.id, m.createdAt.toISOString()])).toEqual([
        [10, message(10, 'x').createdAt.toISOString()],
        [11, message(11, 'x').createdAt.toISOString()],
      ]);
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
  });

  it('asks subscribers to re-read after Redis restarts, and delivers again afterwards', async () => {
    const prefix = `test-restart-${Date.now()}`;
    const writer = await RedisEventBus.connect({ url: redis.url, prefix, logger: silent });
    const reader = await RedisEventBus.connect({ url: redis.url, prefix, logger: silent });
    try {
      const reconnected = new Promise<void>((resolve) => reader.onReconnect(resolve));
      await redis.stop();
      writer.publish([message(1, 'r')]); // lost with Redis; the store would have it
      await redis.start();
      await reconnected;
      const after = collect(reader, 'r', 1);
      // The writer may need a moment to reconnect too; publish until the reader hears.
      const timer = setInterval(() => writer.publish([message(2, 'r')]), 200);
      expect((await after).map((m) => m.id)).toEqual([2]);
      clearInterval(timer);
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
  });
});
