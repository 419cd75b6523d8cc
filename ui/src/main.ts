import { mount } from "svelte";
import App from "./App.svelte";
import "./app.css";

const target = document.getElementById("app");
if (!target) throw new Error("no #app element");
export default mount(App, { target });

// The app-bench journey driver, only when the bench asks for it: a separate
// chunk a kiosk never loads.
if (new URLSearchParams(location.search).has("bench-journey")) {
  import("./lib/benchjourney").then((m) => m.drive()).catch(() => undefined);
}
