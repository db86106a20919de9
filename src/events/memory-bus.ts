import { EventEmitter } from 'node:events';
import {
  type EventBus,
  type EventListener,
  emitLocally,
  onStatusEvents,
  type TaskEventMessage,
} from './bus.ts';

/** The event bus of a single process: publish and subscribe are plain function calls. */
export class MemoryEventBus implements EventBus {
  readonly kind = 'memory';
  readonly #emitter = new EventEmitter();

  constructor() {
    // Every SSE client adds a listener; the default cap of 10 is a leak detector we do not want here.
    this.#emitter.setMaxListeners(0);
  }

  publish(messages: TaskEventMessage[]): void {
    for (const message of messages) emitLocally(this.#emitter, message);
  }

  subscribe(taskId: string, listener: EventListener): () => void {
    this.#emitter.on(taskId, listener);
    return () => this.#emitter.off(taskId, listener);
  }

  subscribeStatus(listener: EventListener): () => void {
    return onStatusEvents(this.#emitter, listener);
  }

  /** An in-process bus never loses messages, so it never asks for a re-read. */
  onReconnect(): () => void {
    return () => {};
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.#emitter.removeAllListeners();
  }
}
