import { BatonError } from "./errors.js";

/**
 * Names that code probing an object reads without meaning an input: a thenable check (`await`,
 * returning the object from an async function), JSON.stringify, test matchers and inspectors.
 * They read as `undefined`, as on a plain object.
 */
const PROBES: ReadonlySet<string> = new Set(["then", "toJSON", "asymmetricMatch", "$$typeof", "nodeType", "tagName", "_isMockFunction", "@@__IMMUTABLE_ITERABLE__@@", "@@__IMMUTABLE_RECORD__@@"]);

/**
 * The inputs object a compute receives: the loaded inputs by name, where reading a name that is
 * not an input throws a BatonError naming the inputs there are (a destructuring typo would
 * otherwise surface later as `Cannot read properties of undefined`). Everything else behaves as
 * the plain object: spread, destructuring, `in`, Object.keys, JSON, symbols, Object.prototype.
 * One trap per property read; nothing per row.
 */
export function inputsProxy<T extends Record<string, unknown>>(assetId: string, inputs: T): T {
  return new Proxy(inputs, {
    get(target, name, receiver) {
      if (typeof name === "symbol" || name in target || PROBES.has(name)) return Reflect.get(target, name, receiver);
      throw unknownInput(assetId, name, Object.keys(target));
    },
  });
}

function unknownInput(assetId: string, name: string, names: readonly string[]): BatonError {
  const near = closest(name, names);
  const listed = names.length ? `its inputs are ${names.join(", ")}` : "it has no inputs";
  return new BatonError("UNKNOWN_INPUT", `asset "${assetId}" has no input "${name}"; ${listed}`, {
    hint: near !== undefined ? `did you mean "${near}"? (the compute's first argument holds the asset's \`inputs\` by name)` : `read one of the names declared in the asset's \`inputs\`, or declare "${name}" there`,
  });
}

/** The name within two edits of `name` (a typo), if one is. */
function closest(name: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const n of names) {
    const d = distance(name.toLowerCase(), n.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [n, d];
  }
  return best;
}

/** Optimal string alignment distance: a swap of two neighbours ("ordres") counts as one edit. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
