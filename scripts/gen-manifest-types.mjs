#!/usr/bin/env node
// Writes packages/core/python/baton_core/manifest_types.py, the manifest's TypedDicts, from
// packages/core/schema/manifest.schema.json. `--check` writes nothing and exits 1 when the file
// differs from what the schema gives (a test and scripts/check-python.sh run it); exit 2 is a
// schema it cannot translate. `--schema FILE` and `--out FILE` replace the two paths (for tests).
//
// Only the schema features the manifest uses are translated; anything else stops the generator
// with the JSON pointer, so a schema change cannot silently produce a loose type. Output is
// deterministic and already in ruff's format (88 columns, double quotes).
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
let args;
try {
  ({ values: args } = parseArgs({
    options: { check: { type: "boolean" }, schema: { type: "string" }, out: { type: "string" } },
  }));
} catch (e) {
  console.error(`${e.message}\nusage: node scripts/gen-manifest-types.mjs [--check] [--schema FILE] [--out FILE]`);
  process.exit(2);
}
const schemaFile = resolve(args.schema ?? join(root, "packages/core/schema/manifest.schema.json"));
const outFile = resolve(args.out ?? join(root, "packages/core/python/baton_core/manifest_types.py"));
const WIDTH = 88;

// Python names of the schema's objects and unions, by JSON pointer: core's TypeScript names
// (src/manifest/types.ts) where it has them. `ManifestData` because `Manifest` is baton_core's class.
const NAMES = {
  "#": "ManifestData",
  "#/properties/generator": "ManifestGenerator",
  "#/properties/runtime": "ManifestRuntime",
  "#/$defs/partitions": "PartitionsDefinition",
  "#/$defs/partitions/oneOf/0": "TimePartitionsDefinition",
  "#/$defs/partitions/oneOf/1": "StaticPartitionsDefinition",
  "#/$defs/partitionMapping": "PartitionMapping",
  "#/$defs/asset": "ManifestAsset",
  "#/$defs/asset/properties/deps/items": "ManifestDep",
  "#/$defs/asset/properties/checks/items": "ManifestCheck",
  "#/$defs/asset/properties/retry/oneOf/1": "ManifestRetry",
  "#/$defs/asset/properties/source/oneOf/1": "ManifestSource",
  "#/$defs/asset/properties/table": "ManifestTable",
  "#/properties/pools/items": "ManifestPool",
  "#/$defs/resource": "ManifestResource",
  "#/$defs/resource/properties/config/items": "ManifestResourceConfig",
  "#/$defs/schedule": "ManifestSchedule",
  "#/$defs/schedule/properties/partition": "SchedulePartition",
  "#/$defs/schedule/properties/partition/oneOf/1": "LastCompleteSchedulePartition",
  "#/$defs/schedule/properties/partition/oneOf/2": "StaticSchedulePartition",
  "#/$defs/sensor": "ManifestSensor",
};

const KEYWORDS = new Set(
  ("False None True and as assert async await break class continue def del elif else except " +
    "finally for from global if import in is lambda nonlocal not or pass raise return try while with yield").split(" "),
);
const SCALARS = { string: "str", integer: "int", number: "float", boolean: "bool", null: "None" };
// Keywords that only constrain values, never the Python type.
const IGNORED = new Set(["description", "title", "$id", "$schema", "minLength", "maxLength", "pattern",
  "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems", "uniqueItems", "format"]);

class SchemaError extends Error {}

const schema = JSON.parse(readFileSync(schemaFile, "utf8"));
/** Emitted definitions in dependency order (a union after its members), by name. */
const emitted = new Map();
const pending = new Set();

function fail(pointer, problem) {
  throw new SchemaError(`${relative(root, schemaFile)} at ${pointer}: ${problem}`);
}

function resolveRef(ref, pointer) {
  if (!ref.startsWith("#/")) fail(pointer, `only local $ref is supported, not ${ref}`);
  let node = schema;
  for (const part of ref.slice(2).split("/")) {
    node = node?.[part.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  if (node === undefined) fail(pointer, `$ref ${ref} points nowhere`);
  return [node, ref];
}

function checkKeywords(node, pointer, allowed) {
  for (const k of Object.keys(node)) {
    if (!allowed.has(k) && !IGNORED.has(k) && k !== "$defs") fail(pointer, `unsupported keyword "${k}"`);
  }
}

function literal(value, pointer) {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" && Number.isInteger(value)) return String(value);
  if (typeof value === "boolean") return value ? "True" : "False";
  if (value === null) return "None";
  return fail(pointer, `cannot write ${JSON.stringify(value)} as a Literal`);
}

function union(types) {
  const unique = [...new Set(types)];
  // None last, as people write it.
  return [...unique.filter((t) => t !== "None"), ...unique.filter((t) => t === "None")].join(" | ");
}

/** The Python type of the schema at `pointer`, emitting the TypedDicts and aliases it needs. */
function typeOf(node, pointer) {
  if (node === true || (typeof node === "object" && Object.keys(node).filter((k) => !IGNORED.has(k)).length === 0)) {
    return "object"; // any JSON value (metadata)
  }
  if (node.$ref !== undefined) {
    checkKeywords(node, pointer, new Set(["$ref"]));
    const [target, ref] = resolveRef(node.$ref, pointer);
    return typeOf(target, ref);
  }
  if (node.const !== undefined) {
    checkKeywords(node, pointer, new Set(["const", "type"]));
    return `Literal[${literal(node.const, pointer)}]`;
  }
  if (node.enum !== undefined) {
    checkKeywords(node, pointer, new Set(["enum", "type"]));
    return `Literal[${node.enum.map((v) => literal(v, pointer)).join(", ")}]`;
  }
  if (node.oneOf !== undefined || node.anyOf !== undefined) {
    const key = node.oneOf !== undefined ? "oneOf" : "anyOf";
    checkKeywords(node, pointer, new Set([key]));
    const members = node[key].map((m, i) => typeOf(m, `${pointer}/${key}/${i}`));
    const name = NAMES[pointer];
    if (name === undefined) return union(members);
    // A named union never includes None: a nullable use is `Name | None`, as in core's types.
    const some = members.filter((m) => m !== "None");
    define(name, pointer, () => ({ kind: "alias", text: union(some) }));
    return some.length < members.length ? `${name} | None` : name;
  }
  if (Array.isArray(node.type)) {
    checkKeywords(node, pointer, new Set(["type"]));
    return union(node.type.map((t) => SCALARS[t] ?? fail(pointer, `type list member "${t}" is not a scalar`)));
  }
  if (node.type === "array") {
    checkKeywords(node, pointer, new Set(["type", "items"]));
    if (node.items === undefined) fail(pointer, "an array needs items");
    return `list[${typeOf(node.items, `${pointer}/items`)}]`;
  }
  if (node.type === "object") return objectType(node, pointer);
  if (SCALARS[node.type] !== undefined) {
    checkKeywords(node, pointer, new Set(["type"]));
    return SCALARS[node.type];
  }
  return fail(pointer, `unsupported schema ${JSON.stringify(node)}`);
}

function objectType(node, pointer) {
  checkKeywords(node, pointer, new Set(["type", "properties", "required", "additionalProperties"]));
  const extra = node.additionalProperties;
  if (node.properties === undefined) {
    // A map: {"type": "object", "additionalProperties": <schema>}.
    if (extra === false) fail(pointer, "an object without properties must allow additional properties");
    return `dict[str, ${extra === undefined || extra === true ? "object" : typeOf(extra, `${pointer}/additionalProperties`)}]`;
  }
  if (extra !== false) fail(pointer, "an object with properties must set additionalProperties: false (a TypedDict is closed)");
  const name = NAMES[pointer] ?? fail(pointer, "no Python name: add its pointer to NAMES in scripts/gen-manifest-types.mjs");
  define(name, pointer, () => {
    const required = new Set(node.required ?? []);
    for (const r of required) if (!(r in node.properties)) fail(pointer, `required "${r}" is not a property`);
    const fields = Object.entries(node.properties).map(([field, sub]) => {
      const type = typeOf(sub, `${pointer}/properties/${field.replace(/~/g, "~0").replace(/\//g, "~1")}`);
      return { field, type: required.has(field) ? type : `NotRequired[${type}]`, description: sub.description };
    });
    return { kind: "typeddict", fields, description: node.description };
  });
  return name;
}

function define(name, pointer, build) {
  const seen = emitted.get(name);
  if (seen !== undefined) {
    if (seen.pointer !== pointer) fail(pointer, `name ${name} is also used for ${seen.pointer}`);
    return;
  }
  // Definitions come before their uses (the module has no postponed annotations, so that
  // TypedDict's __required_keys__ and get_type_hints work at run time): no recursion.
  if (pending.has(name)) fail(pointer, `${name} refers to itself; recursive types are not supported`);
  pending.add(name);
  const body = build();
  pending.delete(name);
  emitted.set(name, { pointer, ...body });
}

// -- writing, in ruff format's layout --------------------------------------------------------------

/** `head[items]` on one line if it fits, else split the way ruff format does. */
function subscript(prefix, head, items, indent) {
  const one = `${indent}${prefix}${head}[${items.join(", ")}]`;
  if (one.length <= WIDTH) return [one];
  const inner = `${indent}    ${items.join(", ")}`;
  if (inner.length <= WIDTH) return [`${indent}${prefix}${head}[`, inner, `${indent}]`];
  return [`${indent}${prefix}${head}[`, ...items.map((i) => `${indent}    ${i},`), `${indent}]`];
}

/** A field or alias line; long Literal[...] and NotRequired[Literal[...]] are split like ruff. */
function annotated(prefix, type, indent) {
  const one = `${indent}${prefix}${type}`;
  if (one.length <= WIDTH) return [one];
  const optional = type.startsWith("NotRequired[");
  const m = (optional ? /^NotRequired\[Literal\[(.*)\]\]$/ : /^Literal\[(.*)\]$/).exec(type);
  if (m) {
    const items = m[1].split(", ");
    if (!optional) return subscript(prefix, "Literal", items, indent);
    // NotRequired[Literal[...]]: ruff splits the outer brackets first.
    const innerLine = `${indent}    Literal[${items.join(", ")}]`;
    if (innerLine.length <= WIDTH) return [`${indent}${prefix}NotRequired[`, innerLine, `${indent}]`];
    return [`${indent}${prefix}NotRequired[`, ...subscript("", "Literal", items, `${indent}    `), `${indent}]`];
  }
  if (!indent && type.includes(" | ")) {
    // A long alias: a parenthesized union, one member a line.
    return [`${prefix}(`, ...type.split(" | ").map((t, i) => `    ${i ? "| " : ""}${t}`), ")"];
  }
  throw new SchemaError(`cannot fit "${one.trim()}" into ${WIDTH} columns: shorten a name in NAMES`);
}

function docstring(text, indent) {
  const clean = text.replace(/\s+/g, " ").trim().replace(/\\/g, "\\\\").replace(/"""/g, '\\"\\"\\"');
  const one = `${indent}"""${clean}"""`;
  if (one.length <= WIDTH) return [one];
  const words = clean.split(" ");
  const lines = [];
  let line = `${indent}"""`;
  for (const w of words) {
    if (line.length + w.length + 1 > WIDTH && line.trim() !== '"""') {
      lines.push(line);
      line = indent + w;
    } else {
      line += (line.endsWith('"""') || line === indent ? "" : " ") + w;
    }
  }
  lines.push(line, `${indent}"""`);
  return lines;
}

function comment(text, indent) {
  const lines = [];
  let line = `${indent}#`;
  for (const w of text.replace(/\s+/g, " ").trim().split(" ")) {
    if (line.length + w.length + 1 > WIDTH && line !== `${indent}#`) {
      lines.push(line);
      line = `${indent}#`;
    }
    line += ` ${w}`;
  }
  return [...lines, line];
}

function render() {
  typeOf(schema, "#");
  const used = (word) => [...emitted.values()].some((d) =>
    d.kind === "alias" ? d.text.includes(word) : d.fields.some((f) => f.type.includes(word)));
  const imports = ["Literal", "NotRequired", "TypedDict"].filter((w) => w === "TypedDict" || used(`${w}[`));
  const out = [
    '"""The Baton manifest\'s JSON as TypedDicts, for reading it with types.',
    "",
    "Generated from packages/core/schema/manifest.schema.json by",
    "scripts/gen-manifest-types.mjs. Do not edit: change the schema and run",
    "`node scripts/gen-manifest-types.mjs`.",
    '"""',
    "",
    `from typing import ${imports.join(", ")}`,
  ];
  for (const [name, def] of emitted) {
    out.push("", "");
    if (def.kind === "alias") {
      out.push(...annotated(`${name} = `, def.text, ""));
      continue;
    }
    const functional = def.fields.some((f) => KEYWORDS.has(f.field) || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(f.field));
    if (functional) {
      out.push(`${name} = TypedDict(`, `    "${name}",`, "    {");
      for (const f of def.fields) out.push(...annotated(`${JSON.stringify(f.field)}: `, `${f.type},`, "        "));
      out.push("    },", ")");
      continue;
    }
    out.push(`class ${name}(TypedDict):`);
    if (def.description) out.push(...docstring(def.description, "    "), "");
    if (def.fields.length === 0) out.push("    pass");
    for (const f of def.fields) {
      if (f.description) out.push(...comment(f.description, "    "));
      out.push(...annotated(`${f.field}: `, f.type, "    "));
    }
  }
  return `${out.join("\n")}\n`;
}

try {
  const text = render();
  if (args.check) {
    let current = "";
    try {
      current = readFileSync(outFile, "utf8");
    } catch {
      // missing: stale
    }
    if (current !== text) {
      console.error(`✘ ${relative(root, outFile)} is stale: it does not match ${relative(root, schemaFile)}\n  fix: node scripts/gen-manifest-types.mjs`);
      process.exit(1);
    }
    console.log(`✔ ${relative(root, outFile)} matches the schema`);
  } else {
    writeFileSync(outFile, text);
    console.log(`wrote ${relative(root, outFile)} (${emitted.size} types)`);
  }
} catch (e) {
  if (!(e instanceof SchemaError)) throw e;
  console.error(`✘ ${e.message}`);
  process.exit(2);
}
