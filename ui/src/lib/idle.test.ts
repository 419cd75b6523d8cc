import { describe, expect, it } from "vitest";
import { IdleTimer } from "./idle";

/** A fake clock: runs timers in time order, no real waiting. */
function fakeTimers() {
  let now = 0;
  let next = 1;
  const pending = new Map<number, { at: number; f: () => void }>();
  return {
    timers: {
      setTimeout: (f: () => void, ms: number) => {
        const id = next++;
        pending.set(id, { at: now + ms, f });
        return id;
      },
      clearTimeout: (h: unknown) => void pending.delete(h as number),
    },
    advance(ms: number) {
      const end = now + ms;
      for (;;) {
        const due = [...pending.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        pending.delete(due[0]);
        now = due[1].at;
        due[1].f();
      }
      now = end;
    },
    count: () => pending.size,
  };
}

describe("idle timer", () => {
  it("warns at 45 s with a countdown and expires at 60 s", () => {
    const clock = fakeTimers();
    const log: string[] = [];
    const idle = new IdleTimer({ onwarn: (s) => log.push(`warn ${s}`), onexpire: () => log.push("expire") }, clock.timers);
    idle.arm(60, 15);
    clock.advance(44_999);
    expect(log).toEqual([]);
    clock.advance(1);
    expect(log).toEqual(["warn 15"]);
    clock.advance(15_000);
    expect(log.at(-1)).toBe("expire");
    expect(log.filter((l) => l.startsWith("warn")).length).toBe(15);
    expect(clock.count()).toBe(0);
  });

  it("a touch re-arms from zero, and disarm leaves no timer behind", () => {
    const clock = fakeTimers();
    const log: string[] = [];
    const idle = new IdleTimer({ onwarn: (s) => log.push(`warn ${s}`), onexpire: () => log.push("expire") }, clock.timers);
    idle.arm(60, 15);
    clock.advance(50_000);
    idle.arm(60, 15);
    clock.advance(44_000);
    expect(log).toEqual(["warn 15", "warn 14", "warn 13", "warn 12", "warn 11", "warn 10"]);
    idle.disarm();
    expect(clock.count()).toBe(0);
    clock.advance(100_000);
    expect(log).not.toContain("expire");
  });
});
