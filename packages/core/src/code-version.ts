import { createHash } from "node:crypto";

/**
 * The code version an asset gets when it declares none: the first 12 hex digits of the sha256 of
 * its compute's source text, as tokens. Editing the compute changes it; a change elsewhere (a
 * helper it calls, a package upgrade) does not: declare `codeVersion` for those.
 *
 * The text a module holds is esbuild's output twice over, printed differently: tsx (`baton
 * materialize`, and `baton build` computing the manifest) prints with minifyWhitespace and
 * keepNames, the build's bundle (what a step imports) prints plainly. So the hash is taken over a
 * token stream that is the same for both: no whitespace or comments, no `;` before `}`, no parens
 * around a lone arrow parameter, no keepNames `__name(…)` wrappers. See the README ("Default code
 * version") for what still differs: a name the bundle renames (two files' top-level names collide).
 */
export function defaultCodeVersion(compute: (...args: never[]) => unknown): string {
  return createHash("sha256").update(canonicalSource(Function.prototype.toString.call(compute))).digest("hex").slice(0, 12);
}

/** The tokens of a function's source joined by single spaces, after the normalisations above. */
export function canonicalSource(text: string): string {
  return dropKeepNames(dropPrintingChoices(tokenize(text))).join(" ");
}

const WORD = /[A-Za-z0-9_$\u0080-\uffff]/;
// After these a `/` starts a regular expression, not a division.
const BEFORE_REGEX = new Set(["return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw", "yield", "await", "instanceof"]);

/**
 * A small scanner: words, strings, template parts, regular expressions and single punctuation
 * characters. Not a parser: it only needs to cut both printings of one program the same way.
 */
function tokenize(src: string): string[] {
  const out: string[] = [];
  // One entry per open `${`: the brace depth inside it, so that its `}` resumes the template.
  const templates: number[] = [];
  let i = 0;
  const n = src.length;
  const template = (start: number): void => {
    // Reads template text from `start` (just after "`" or "}") to "`" or "${".
    let j = start;
    while (j < n && src[j] !== "`" && !(src[j] === "$" && src[j + 1] === "{")) j += src[j] === "\\" ? 2 : 1;
    if (src[j] === "`") {
      out.push(src.slice(start - 1, j + 1));
      i = j + 1;
    } else {
      out.push(src.slice(start - 1, j + 2));
      templates.push(0);
      i = j + 2;
    }
  };
  while (i < n) {
    const c = src[i]!;
    if (/\s/.test(c)) i++;
    else if (c === "/" && src[i + 1] === "/") while (i < n && src[i] !== "\n") i++;
    else if (c === "/" && src[i + 1] === "*") i = src.indexOf("*/", i + 2) < 0 ? n : src.indexOf("*/", i + 2) + 2;
    else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && src[j] !== c) j += src[j] === "\\" ? 2 : 1;
      out.push(src.slice(i, j + 1));
      i = j + 1;
    } else if (c === "`") template(i + 1);
    else if (c === "/" && regexMayStart(out[out.length - 1])) {
      let j = i + 1;
      let inClass = false;
      while (j < n && (inClass || src[j] !== "/") && src[j] !== "\n") {
        if (src[j] === "\\") j++;
        else if (src[j] === "[") inClass = true;
        else if (src[j] === "]") inClass = false;
        j++;
      }
      j++;
      while (j < n && WORD.test(src[j]!)) j++;
      out.push(src.slice(i, j));
      i = j;
    } else if (WORD.test(c)) {
      let j = i + 1;
      while (j < n && WORD.test(src[j]!)) j++;
      out.push(src.slice(i, j));
      i = j;
    } else if (templates.length > 0 && (c === "{" || c === "}")) {
      const depth = templates[templates.length - 1]!;
      if (c === "}" && depth === 0) {
        templates.pop();
        template(i + 1);
      } else {
        templates[templates.length - 1] = depth + (c === "{" ? 1 : -1);
        out.push(c);
        i++;
      }
    } else {
      out.push(c);
      i++;
    }
  }
  return out;
}

function regexMayStart(previous: string | undefined): boolean {
  if (previous === undefined) return true;
  if (BEFORE_REGEX.has(previous)) return true;
  return !(WORD.test(previous[previous.length - 1]!) || previous === ")" || previous === "]" || previous === "}" || /^["'`]/.test(previous));
}

/** `;}` → `}` (a minified block drops its last semicolon); `(x)=>` → `x=>`. */
function dropPrintingChoices(t: string[]): string[] {
  const out: string[] = [];
  for (let k = 0; k < t.length; k++) {
    if (t[k] === ";" && t[k + 1] === "}") continue;
    if (t[k] === "(" && isWord(t[k + 1]) && t[k + 2] === ")" && t[k + 3] === "=" && t[k + 4] === ">") {
      out.push(t[k + 1]!);
      k += 2;
      continue;
    }
    out.push(t[k]!);
  }
  return out;
}

/**
 * keepNames (tsx) wraps named functions: `__name(expr, "name")` as an expression, and
 * `function f(){}__name(f,"f");` after a declaration. The plain bundle has neither.
 */
function dropKeepNames(t: string[]): string[] {
  const out: string[] = [];
  for (let k = 0; k < t.length; k++) {
    if (t[k] !== "__name" || t[k + 1] !== "(") {
      out.push(t[k]!);
      continue;
    }
    // Find the `,` at depth 1 followed by a string and `)`.
    let depth = 0;
    let end = -1;
    let comma = -1;
    for (let j = k + 1; j < t.length; j++) {
      const x = t[j]!;
      if (x === "(" || x === "[" || x === "{") depth++;
      else if (x === ")" || x === "]" || x === "}") {
        depth--;
        if (depth === 0) {
          end = j;
          break;
        }
      } else if (x === "," && depth === 1) comma = j;
    }
    if (end < 0 || comma < 0 || comma !== end - 2 || !/^["']/.test(t[end - 1]!)) {
      out.push(t[k]!);
      continue;
    }
    const inner = dropKeepNames(t.slice(k + 2, comma));
    // A class names itself in a static block: `static{__name(this,"Box")}`.
    if (inner.length === 1 && inner[0] === "this" && out[out.length - 2] === "static" && out[out.length - 1] === "{" && t[end + 1] === "}") {
      out.length -= 2;
      k = end + 1;
      continue;
    }
    const statement = inner.length === 1 && t[end + 1] === ";" && (out[out.length - 1] === "}" || out[out.length - 1] === ";");
    if (!statement) out.push(...inner);
    k = statement ? end + 1 : end;
  }
  return out;
}

function isWord(s: string | undefined): boolean {
  return s !== undefined && /^[A-Za-z_$\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*$/.test(s);
}
