import type { Definitions } from "../definitions.js";

/** An indented tree from each root down; a node reached twice is marked instead of repeated. */
export function graphText(defs: Definitions): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  const walk = (id: string, prefix: string, last: boolean, depth: number) => {
    const a = defs.asset(id);
    const tag = a.partitions ? ` (${a.partitions.type === "time" ? a.partitions.grain : "static"})` : "";
    lines.push(`${depth === 0 ? "" : `${prefix}${last ? "└─ " : "├─ "}`}${id}${tag}${seen.has(id) ? " ↑" : ""}`);
    if (seen.has(id)) return;
    seen.add(id);
    const downs = defs.downstream(id);
    downs.forEach((d, i) => walk(d, depth === 0 ? "" : `${prefix}${last ? "   " : "│  "}`, i === downs.length - 1, depth + 1));
  };
  for (const a of defs.assets) if (defs.upstream(a.id).length === 0) walk(a.id, "", true, 0);
  return lines.join("\n");
}

export function graphMermaid(defs: Definitions): string {
  const node = (id: string) => `  ${id.replace(/[^A-Za-z0-9_]/g, "_")}["${id}"]`;
  const lines = ["graph LR", ...defs.assets.map((a) => node(a.id))];
  for (const a of defs.assets) for (const up of defs.upstream(a.id)) lines.push(`  ${up.replace(/[^A-Za-z0-9_]/g, "_")} --> ${a.id.replace(/[^A-Za-z0-9_]/g, "_")}`);
  return lines.join("\n");
}
