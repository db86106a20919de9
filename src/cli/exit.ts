/** The CLI's exit codes; scripts branch on them, so they never change meaning. */
export const EXIT = {
  ok: 0,
  /** The task ended failed or cancelled (`submit --wait`), or the audit chain is broken (`audit verify`). */
  taskFailed: 1,
  /** Bad flags, bad input, or a request the server refused as invalid. */
  usage: 2,
  /** The server could not be reached or answered with a server error. */
  unreachable: 3,
} as const;

/** Ends a command with `code` after printing `message` to stderr. */
export class ExitError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'ExitError';
    this.code = code;
  }
}
