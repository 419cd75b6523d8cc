// Bundles every Fluent catalog into the app at build time (no fetch at run
// time, nothing remote: the CSP allows only bundled files).
const sources = import.meta.glob("../../../assets/i18n/*/*.ftl", {
  query: "?raw",
  import: "default",
  eager: true,
}) as Record<string, string>;

export default sources;
