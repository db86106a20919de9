import { InvalidArgumentError } from 'commander';

/** The CLI's exit codes; scripts branch on them, so they never change meaning. */
export const EXIT = {
  ok: 0,
  /** The task ended failed or cancelled (`submit --wait`), or the audit chain is broken (`audit verify`). */
  taskFailed: 1,
  /** Bad flags, bad input, or a request the server refused as invalid. */
  usage: 2,
  /** The server could not be reached or answered with a server error. */
  unreachable: 3,
  /** What the command names does not exist (a task, agent, token, memory entry, schedule). */
  notFound: 4,
} as const;

/**
 * A commander option parser for a whole number in [min, max]: a bad value is refused before any
 * request is sent, naming the flag (commander prefixes it).
 */
export function wholeNumber(min: number, max: number): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (!/^\d+$/.test(value.trim()) || number < min || number > max) {
      throw new InvalidArgumentError(
        `expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}.`,
      );
    }
    return number;
  };
}

/** Ends a command with `code` after printing `message` to stderr. */
export class ExitError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'ExitError';
    this.code = code;
  }
}
