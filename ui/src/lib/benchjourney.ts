// The app-bench journey driver: loaded (lazily, see main.ts) only when the
// page's address has `?bench-journey`, which only the bench sets (a query
// for Chromium, DPS_BENCH_JOURNEY=1 for the app). The same code drives both
// contenders: once the bench's virtual card is read, it walks the BRUVAX
// registration to its end by clicking as a resident would, then tells the
// bench, which pulls the card. It waits on DOM mutations, never a timer.
import { ipc } from "./ipc";

function changed(): Promise<void> {
  return new Promise((resolve) => {
    const o = new MutationObserver(() => {
      o.disconnect();
      resolve();
    });
    o.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
  });
}

async function until<T>(f: () => T | null | undefined): Promise<T> {
  for (;;) {
    const v = f();
    if (v) return v;
    await changed();
  }
}

const q = (css: string) => document.querySelector<HTMLElement>(css);

// Where a choice offers them, the options the e2e suite takes too.
const PREFER = ["sms", "yes"];

const TARGET: Record<string, string> = {
  info: "[data-action=next]",
  check: "[data-action=tick]",
  end: "[data-action=finish]",
};

export async function drive(): Promise<void> {
  await until(() => q("[data-testid=greeting]"));
  (await until(() => q("[data-action=start]"))).click();
  (await until(() => q("[data-procedure=bruvax-registration]"))).click();
  await until(() => q("main[data-screen=journey]"));
  for (let i = 0; i < 40; i++) {
    const main = await until(() => q("main[data-screen]"));
    if (main.dataset.screen !== "journey") {
      await ipc.benchMark("journey-done");
      return;
    }
    const step = main.dataset.step;
    const kind = main.dataset.kind ?? "";
    let css = TARGET[kind];
    if (kind === "choice") {
      css = PREFER.map((p) => `[data-option='${p}']`).find((c) => q(c)) ?? "[data-option]";
    }
    if (!css) break;
    (await until(() => q(css))).click();
    await until(() => {
      const m = q("main[data-screen]");
      return m && (m.dataset.screen !== "journey" || m.dataset.step !== step) ? m : null;
    });
  }
  await ipc.benchMark("journey-stuck");
}
