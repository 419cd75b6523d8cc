import { describe, expect, it } from "vitest";
import { newest } from "./status";

describe("newest", () => {
  it("keeps a newer status when an older one arrives late", () => {
    const event = { seq: 7, skew: true };
    const lateReply = { seq: 6, skew: false };
    expect(newest(event, lateReply)).toBe(event);
  });

  it("takes a newer or equal status, and the first one", () => {
    const a = { seq: 3, v: "a" };
    const b = { seq: 4, v: "b" };
    const c = { seq: 4, v: "c" };
    expect(newest(a, b)).toBe(b);
    expect(newest(b, c)).toBe(c);
    expect(newest(null, a)).toBe(a);
  });
});
