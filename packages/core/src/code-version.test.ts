import { transform } from "esbuild";
import { describe, expect, it } from "vitest";
import { canonicalSource, defaultCodeVersion } from "./code-version.js";

// A compute with what printers disagree on: inner named functions and a class (keepNames),
// a lone arrow parameter, nested templates, a regular expression with spaces, comments.
const MODULE = `
const suffix: string = "!";
export const compute = async ({ orders }: { orders: { height: number } }) => {
  // rows per order
  function twice(x: number): number { return x * 2; }
  const half = (x: number) => x / 2;
  class Box { v = 1 }
  const re = /a b\\/[/ ]+/g;
  const t = \`n \${ twice(orders.height) + half(2) } \${ \`in \${ suffix }\` } y\`;
  if (re.test(t)) { return t; }
  return [t, String(new Box().v), 'q"uote'].join(";");
};
`;

/** The module printed as tsx prints it, or as the build's bundle does, then imported. */
async function load(tsx: boolean): Promise<(...args: never[]) => unknown> {
  const { code } = await transform(MODULE, { loader: "ts", format: "esm", target: "node20", ...(tsx ? { minifyWhitespace: true, keepNames: true } : {}) });
  const mod = (await import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`)) as { compute: (...args: never[]) => unknown };
  return mod.compute;
}

describe("defaultCodeVersion", () => {
  it("is the same for tsx's printing and the bundle's (whitespace, keepNames, arrow parens, last semicolons)", async () => {
    const [dev, built] = [await load(true), await load(false)];
    expect(dev.toString()).not.toBe(built.toString());
    expect(dev.toString()).toContain("__name");
    expect(canonicalSource(dev.toString())).toBe(canonicalSource(built.toString()));
    expect(defaultCodeVersion(dev)).toBe(defaultCodeVersion(built));
    expect(defaultCodeVersion(dev)).toMatch(/^[0-9a-f]{12}$/);
  });

  it("changes with the code, not with comments, whitespace or line endings", () => {
    const a = ({ orders }: { orders: number[] }) => orders.map((x) => x * 2);
    const b = ({ orders }: { orders: number[] }) => orders.map((x) => x * 3);
    expect(defaultCodeVersion(a)).not.toBe(defaultCodeVersion(b));
    expect(canonicalSource("(x) => {\r\n  // note\r\n  return x /* two */ * 2;\r\n}")).toBe(canonicalSource("x=>{return x*2}"));
  });

  it("keeps strings, templates and regular expressions as written", () => {
    expect(canonicalSource('() => "a  b"')).not.toBe(canonicalSource('() => "a b"'));
    expect(canonicalSource("() => `a  ${ x }`")).not.toBe(canonicalSource("() => `a ${x}`"));
    expect(canonicalSource("() => `a ${ x }`")).toBe(canonicalSource("() => `a ${x}`"));
    expect(canonicalSource("() => /a  b/.test(s)")).not.toBe(canonicalSource("() => /a b/.test(s)"));
    expect(canonicalSource("() => a / b / c")).toBe(canonicalSource("()=>a/b/c"));
  });
});
