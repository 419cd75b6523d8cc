// Pictograms are bundled from assets/pictograms at build time (the CSP allows
// only bundled files). A flow naming a pictogram this build lacks still
// works: it shows the generic one.
const urls = import.meta.glob("../../../assets/pictograms/*.svg", {
  query: "?url",
  import: "default",
  eager: true,
}) as Record<string, string>;

const byId = new Map<string, string>();
for (const [path, url] of Object.entries(urls)) {
  const id = path.split("/").at(-1)?.replace(/\.svg$/, "");
  if (id) byId.set(id, url);
}

export function pictogram(id: string | null | undefined): string {
  return (id && byId.get(id)) || byId.get("help") || "";
}
