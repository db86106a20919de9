import type { EventEmitter } from 'node:events';
import type { WaitReason } from '../core/admission.ts';
import type { TaskOutcome } from '../core/outcome.ts';
import type { TaskType } from '../core/task-types.ts';

/** A task event as stored and as delivered to live subscribers. `id` is its position in the store. */
export interface TaskEventMessage {
  id: number;
  taskId: string;
  attemptId: string | null;
  type: string;
  data: unknown;
  createdAt: Date;
  /**
   * On a status event, as the process that recorded it publishes it: the task as it then was, so
   * metrics count the change without reading the task back. Not stored, and not sent to clients.
   */
  task?: StatusFacts;
}

export interface StatusFacts {
  type: TaskType;
  outcome: TaskOutcome | null;
  parkReason: WaitReason | null;
  /** Whether this status event is the task's first (its submission). */
  submitted: boolean;
}

export type EventListener = (message: TaskEventMessage) => void;

/** The local channel that carries every task's `status` events (task ids are UUIDs, so it cannot clash). */
const STATUS_CHANNEL = 'status:*';

/** Hands `message` to the subscribers of its task and, for a status change, to the status subscribers. */
export function emitLocally(emitter: EventEmitter, message: TaskEventMessage): void {
  emitter.emit(message.taskId, message);
  if (message.type === 'status') emitter.emit(STATUS_CHANNEL, message);
}

/** Subscribes `listener` to every task's status events on `emitter`; returns the unsubscribe function. */
export function onStatusEvents(emitter: EventEmitter, listener: EventListener): () => void {
  emitter.on(STATUS_CHANNEL, listener);
  return () => emitter.off(STATUS_CHANNEL, listener);
}

/**
 * Live delivery of task events to whoever is watching. Events are always stored before they are
 * published, so a subscriber that misses a message (or connects late) reads it back from the store.
 * Embedded mode uses the in-process bus; distributed mode a Redis-backed one behind this interface.
 */
export interface EventBus {
  publish(messages: TaskEventMessage[]): void;
  /** Calls `listener` for each new event of `taskId` until the returned function is called. */
  subscribe(taskId: string, listener: EventListener): () => void;
  /** Calls `listener` for every task's `status` events until the returned function is called. */
  subscribeStatus(listener: EventListener): () => void;
  /**
   * Calls `callback` when the bus may have missed messages (it reconnected after an outage);
   * subscribers then re-read what they missed from the store. Returns the unsubscribe function.
   */
  onReconnect(callback: () => void): () => void;
  /** Round trip to the bus's server, for health checks (a no-op in-process). */
  ping(): Promise<void>;
  readonly kind: 'memory' | 'redis';
  close(): Promise<void>;
}
