// A stand-in for the Rust side when the built UI runs in a plain browser:
// only for the app-vs-Chromium bench (`crates/appbench`), never inside the
// app. A browser kiosk needs a local service for the card reader, so the
// bench runs one (`app-bench shim`): it serves ui/dist and holds the real
// kiosk (controller, card watcher, steward, store). Each command is a POST to
// `/api/<command>` with the same JSON arguments Tauri would get; its events
// arrive on one EventSource (`/api/events`), pushed, never polled.
import type { UnlistenFn } from "@tauri-apps/api/event";

export async function invoke<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  let r: Response;
  try {
    r = await fetch(`/api/${cmd}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(args ?? {}),
    });
  } catch {
    throw { code: "generic", params: {} };
  }
  const text = await r.text();
  const body: unknown = text === "" ? undefined : JSON.parse(text);
  // The shim answers an IpcError `{code, params}` with a 4xx/5xx status.
  if (!r.ok) throw body ?? { code: "generic", params: {} };
  return body as T;
}

let source: EventSource | null = null;

export async function listen<T>(event: string, f: (payload: T) => void): Promise<UnlistenFn> {
  source ??= new EventSource("/api/events");
  const handler = (e: MessageEvent<string>) => f(JSON.parse(e.data) as T);
  source.addEventListener(event, handler);
  return () => source?.removeEventListener(event, handler);
}
