import { type ProgressState, progressLine } from './progress.ts';

/** How often the spinner line is redrawn. */
const FRAME_MS = 100;
/** Carriage return, then erase the whole line. */
const CLEAR_LINE = '\r\x1b[2K';

/**
 * A one-line progress display on a terminal, rewritten in place. On anything that is not a
 * terminal (pipes, CI, tests) it draws nothing and `print` is just the plain output.
 */
export interface Progress {
  /** Whether the spinner is drawn (the stream is a terminal). */
  readonly active: boolean;
  update(patch: Partial<ProgressState>): void;
  /** Writes a line of normal output without tearing the spinner line. */
  print(text: string): void;
  /** Removes the spinner line for good. Safe to call twice. */
  stop(): void;
}

export interface SpinnerStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/** The display for anything that is not a terminal: no spinner, output passed straight through. */
export function noProgress(out: (text: string) => void): Progress {
  return { active: false, update() {}, print: out, stop() {} };
}

export function startProgress(
  initial: ProgressState,
  out: (text: string) => void,
  stream: SpinnerStream = process.stderr,
): Progress {
  if (!stream.isTTY) return noProgress(out);
  const state: ProgressState = { ...initial };
  let tick = 0;
  let drawn = false;
  let stopped = false;
  const draw = () => {
    stream.write(`${CLEAR_LINE}${progressLine(state, Date.now(), tick++, stream.columns)}`);
    drawn = true;
  };
  const clear = () => {
    if (drawn) stream.write(CLEAR_LINE);
    drawn = false;
  };
  const timer = setInterval(draw, FRAME_MS);
  timer.unref();
  // Ctrl-C: leave a clean line behind, then end as an interrupted process does.
  const onInterrupt = () => {
    stop();
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    process.removeListener('SIGINT', onInterrupt);
    clear();
  };
  draw();
  return {
    active: true,
    update(patch) {
      Object.assign(state, patch);
    },
    print(text) {
      clear();
      out(text);
      if (!stopped) draw();
    },
    stop,
  };
}
