// The idle timeout: one timer to the warning, then a one-second countdown only
// for the last seconds. Nothing ticks while nobody is at the kiosk.
export interface IdleHandlers {
  onwarn: (secondsLeft: number) => void;
  onexpire: () => void;
}

type Timers = {
  setTimeout: (f: () => void, ms: number) => unknown;
  clearTimeout: (h: unknown) => void;
};

export class IdleTimer {
  private handle: unknown = null;
  constructor(
    private h: IdleHandlers,
    private timers: Timers = {
      setTimeout: (f, ms) => globalThis.setTimeout(f, ms),
      clearTimeout: (h) => globalThis.clearTimeout(h as number),
    },
  ) {}

  /** (Re)starts: warn `warning` seconds before `total` seconds are up. */
  arm(total: number, warning: number) {
    this.disarm();
    const quiet = Math.max(0, total - warning);
    this.handle = this.timers.setTimeout(() => this.countdown(Math.min(warning, total)), quiet * 1000);
  }

  disarm() {
    if (this.handle !== null) this.timers.clearTimeout(this.handle);
    this.handle = null;
  }

  private countdown(left: number) {
    if (left <= 0) {
      this.handle = null;
      this.h.onexpire();
      return;
    }
    this.h.onwarn(left);
    this.handle = this.timers.setTimeout(() => this.countdown(left - 1), 1000);
  }
}
