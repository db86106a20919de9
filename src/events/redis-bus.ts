import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  type EventBus,
  type EventListener,
  emitLocally,
  onStatusEvents,
  type TaskEventMessage,
} from './bus.ts';

/**
 * The event bus of a distributed deployment: one capped Redis Stream that every worker appends to
 * and every API replica reads with a blocking XREAD, handing each message to its local subscribers.
 *
 * Events are stored in PostgreSQL before they are published, so Redis only carries them live: if
 * it restarts (and loses the stream) or a publish fails, nothing is lost. After a reconnect the
 * reader starts again from the newest message and tells subscribers to re-read the store from
 * their last event id, which closes any gap without duplicates.
 */
export interface RedisBusOptions {
  url: string;
  /** Key prefix, so several deployments (or tests) can share one Redis. */
  prefix: string;
  logger: Logger;
  /** Approximate cap of the stream; older entries are trimmed as new ones arrive. */
  maxLength?: number;
}

const BLOCK_MS = 5000;
const READ_BATCH = 500;
const CONNECT_TIMEOUT_MS = 5000;

export class RedisEventBus implements EventBus {
  readonly kind = 'redis';
  readonly #writer: Redis;
  readonly #reader: Redis;
  readonly #key: string;
  readonly #maxLength: number;
  readonly #logger: Logger;
  readonly #emitter = new EventEmitter();
  readonly #reconnectListeners = new Set<() => void>();
  #closed = false;
  #lastId = '0-0';
  #loop: Promise<void> | undefined;
  #connectedBefore = false;
  #resync = false;

  private constructor(options: RedisBusOptions) {
    const connection = {
      connectTimeout: CONNECT_TIMEOUT_MS,
      // Commands wait for a reconnect instead of failing at once, but never forever.
      maxRetriesPerRequest: 3,
      retryStrategy: (times: number) => Math.min(times * 200, 2000),
      lazyConnect: true,
    };
    this.#writer = new Redis(options.url, connection);
    this.#reader = new Redis(options.url, { ...connection, maxRetriesPerRequest: null });
    this.#key = `${options.prefix}:events`;
    this.#maxLength = options.maxLength ?? 100_000;
    this.#logger = options.logger;
    this.#emitter.setMaxListeners(0);
    for (const client of [this.#writer, this.#reader]) client.on('error', () => {}); // reported by the loop and publish
    this.#reader.on('ready', () => {
      this.#connectedBefore = true;
    });
    // From the moment the connection drops, whatever the reader gets (ioredis re-sends the blocked
    // XREAD after reconnecting) is dropped: subscribers re-read the gap from the store instead, in
    // order, and the reader then continues from the stream's current end; see #read.
    this.#reader.on('close', () => {
      if (this.#connectedBefore && !this.#closed) this.#resync = true;
    });
  }

  static async connect(options: RedisBusOptions): Promise<RedisEventBus> {
    const bus = new RedisEventBus(options);
    try {
      await Promise.all([bus.#writer.connect(), bus.#reader.connect()]);
    } catch (error) {
      bus.#writer.disconnect();
      bus.#reader.disconnect();
      throw new Error(`cannot connect to Redis for the event bus: ${(error as Error).message}`, {
        cause: error,
      });
    }
    // Reading starts at once, from the stream's current end, so no subscriber can fall in a gap
    // between its replay from the store and the first live read.
    await bus.#moveToTail();
    bus.#loop = bus.#read();
    return bus;
  }

  publish(messages: TaskEventMessage[]): void {
    if (messages.length === 0 || this.#closed) return;
    const pipeline = this.#writer.pipeline();
    for (const message of messages) {
      pipeline.xadd(this.#key, 'MAXLEN', '~', this.#maxLength, '*', 'm', JSON.stringify(message));
    }
    pipeline.exec().catch((error: unknown) => {
      // Stored already; live viewers catch up from the store when the bus reconnects.
      this.#logger.warn({ err: error, events: messages.length }, 'could not publish events to Redis');
    });
  }

  subscribe(taskId: string, listener: EventListener): () => void {
    this.#emitter.on(taskId, listener);
    return () => this.#emitter.off(taskId, listener);
  }

  subscribeStatus(listener: EventListener): () => void {
    return onStatusEvents(this.#emitter, listener);
  }

  onReconnect(callback: () => void): () => void {
    this.#reconnectListeners.add(callback);
    return () => this.#reconnectListeners.delete(callback);
  }

  async ping(): Promise<void> {
    await this.#writer.ping();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#reader.disconnect();
    await this.#loop?.catch(() => {});
    await this.#writer.quit().catch(() => this.#writer.disconnect());
    this.#emitter.removeAllListeners();
  }

  /** Continues after the newest entry now in the stream (or from the start of an empty one). */
  async #moveToTail(): Promise<void> {
    const [last] = (await this.#reader.xrevrange(this.#key, '+', '-', 'COUNT', 1)) as Array<
      [string, string[]]
    >;
    this.#lastId = last?.[0] ?? '0-0';
  }

  async #read(): Promise<void> {
    while (!this.#closed) {
      try {
        if (this.#resync && this.#reader.status === 'ready') {
          this.#resync = false;
          await this.#moveToTail();
          this.#logger.info('event bus reconnected to Redis; subscribers re-read from the store');
          for (const listener of this.#reconnectListeners) listener();
        }
        const result = (await this.#reader.xread(
          'COUNT',
          READ_BATCH,
          'BLOCK',
          BLOCK_MS,
          'STREAMS',
          this.#key,
          this.#lastId,
        )) as Array<[string, Array<[string, string[]]>]> | null;
        if (this.#resync) continue; // read across an outage: covered by the catch-up
        for (const [, entries] of result ?? []) {
          for (const [id, fields] of entries) {
            this.#lastId = id;
            const raw = fields[fields.indexOf('m') + 1];
            if (!raw) continue;
            const parsed = JSON.parse(raw) as TaskEventMessage & { createdAt: string };
            emitLocally(this.#emitter, { ...parsed, createdAt: new Date(parsed.createdAt) });
          }
        }
      } catch (error) {
        if (this.#closed) return;
        this.#logger.warn({ err: error }, 'event bus read failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }
}
