// Python semantics for the JavaScript that ftadvisor/calc/pyjs.py generates from the calculators' Python.
// Numbers: JavaScript has one number type, so an integral number prints as a Python int ("5", not "5.0").
// Rounding and formatting work on the exact decimal expansion of the double and round half to even, as
// CPython's round() and format() do (JavaScript's toFixed rounds ties up).
const pyrt = (() => {
  class PyError extends Error {
    constructor(kind, message) { super(message); this.kind = kind; }
  }
  const isDict = (x) => x !== null && typeof x === "object" && Object.getPrototypeOf(x) === Object.prototype;
  function truthy(x) {
    if (x === null || x === undefined) return false;
    if (typeof x === "boolean") return x;
    if (typeof x === "number") return x !== 0;
    if (typeof x === "string" || Array.isArray(x)) return x.length > 0;
    if (x instanceof Set || x instanceof Map) return x.size > 0;
    if (isDict(x)) return Object.keys(x).length > 0;
    return true;
  }
  function iter(x) {
    if (Array.isArray(x)) return x;
    if (typeof x === "string" || x instanceof Set) return [...x];
    if (isDict(x)) return Object.keys(x);
    throw new PyError("TypeError", "not iterable: " + x);
  }
  function eq(a, b) {
    if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => eq(v, b[i]));
    return a === b;
  }
  function contains(c, x) {
    if (typeof c === "string") return c.includes(x);
    if (Array.isArray(c)) return c.some((v) => eq(v, x));
    if (c instanceof Set) return c.has(x);
    if (isDict(c)) return Object.prototype.hasOwnProperty.call(c, x);
    throw new PyError("TypeError", "`in` on " + c);
  }
  function len(x) {
    if (typeof x === "string" || Array.isArray(x)) return x.length;
    if (x instanceof Set) return x.size;
    if (isDict(x)) return Object.keys(x).length;
    throw new PyError("TypeError", "len() of " + x);
  }
  function getitem(o, k) {
    if (Array.isArray(o) || typeof o === "string") {
      const i = k < 0 ? o.length + k : k;
      if (!Number.isInteger(i) || i < 0 || i >= o.length) throw new PyError("IndexError", "index " + k);
      return o[i];
    }
    if (!Object.prototype.hasOwnProperty.call(o, k)) throw new PyError("KeyError", String(k));
    return o[k];
  }
  // Python orders tuples element by element, False before True.
  function cmp(a, b) {
    if (Array.isArray(a)) {
      for (let i = 0; i < Math.min(a.length, b.length); i++) {
        const c = cmp(a[i], b[i]);
        if (c !== 0) return c;
      }
      return a.length - b.length;
    }
    return a < b ? -1 : a > b ? 1 : 0;
  }
  function extreme(items, key, sign) {
    const xs = iter(items);
    if (!xs.length) throw new PyError("ValueError", "empty sequence");
    let best = xs[0], bestKey = key(xs[0]);
    for (const x of xs.slice(1)) {
      const k = key(x);
      if (sign * cmp(k, bestKey) > 0) { best = x; bestKey = k; }
    }
    return best;
  }
  // --- exact decimal rounding, half to even
  // The decimal digits of |x| (x finite, not 0): value = 0.d1d2d3... x 10^(exp + 1), 101 significant digits
  // (exact enough: no double is within 10^-100 of a rounding tie without being on it).
  function digitsOf(x) {
    if (Math.abs(x) >= 1e21) {  // an integer: every digit, exactly
      const digits = BigInt(Math.abs(x)).toString();
      return { digits, exp: digits.length - 1 };
    }
    const [m, e] = Math.abs(x).toExponential(100).split("e");
    return { digits: m.replace(".", ""), exp: parseInt(e, 10) };
  }
  function increment(s) {
    const a = s.split("");
    let i = a.length - 1;
    while (i >= 0 && a[i] === "9") { a[i] = "0"; i--; }
    if (i < 0) return "1" + a.join("");
    a[i] = String(+a[i] + 1);
    return a.join("");
  }
  // Keep the first k digits (k may be <= 0), rounding half to even on the rest: an integer as a string.
  function keep(digits, k) {
    if (k >= digits.length) return digits + "0".repeat(k - digits.length);
    const kept = k > 0 ? digits.slice(0, k) : "";
    const rest = k >= 0 ? digits.slice(k) : "0".repeat(-k) + digits;
    let up;
    if (rest[0] !== "5") up = rest[0] > "5";
    else if (/[1-9]/.test(rest.slice(1))) up = true;
    else up = kept.length > 0 && (+kept[kept.length - 1]) % 2 === 1;
    const n = kept || "0";
    return up ? increment(n) : n;
  }
  function group(intPart) {
    return intPart.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }
  function fixed(x, p, comma) {  // |x| with p decimals
    let n = "0";
    if (x !== 0) {
      const { digits, exp } = digitsOf(x);
      n = keep(digits, exp + 1 + p);
    }
    n = n.padStart(p + 1, "0");
    const intPart = n.slice(0, n.length - p), frac = n.slice(n.length - p);
    return (comma ? group(intPart) : intPart) + (p ? "." + frac : "");
  }
  function sci(x, p) {  // |x| as d.ddde+XX with p decimals
    let n = "0".repeat(p + 1), exp = 0;
    if (x !== 0) {
      const d = digitsOf(x);
      exp = d.exp;
      n = keep(d.digits, p + 1);
      if (n.length > p + 1) { n = n.slice(0, p + 1); exp += 1; }
    }
    const e = Math.abs(exp) < 10 ? "0" + Math.abs(exp) : String(Math.abs(exp));
    return n[0] + (p ? "." + n.slice(1) : "") + "e" + (exp < 0 ? "-" : "+") + e;
  }
  function general(x, p, comma) {  // Python's "g": p significant digits, trailing zeros dropped
    const P = p === 0 ? 1 : p;
    let exp = 0;
    if (x !== 0) {
      const d = digitsOf(x);
      exp = d.exp;
      if (keep(d.digits, P).length > P) exp += 1;
    }
    let s = (exp >= -4 && exp < P) ? fixed(x, P - 1 - exp, comma) : sci(x, P - 1);
    const [m, e] = s.split("e");
    let mant = m;
    if (mant.includes(".")) mant = mant.replace(/0+$/, "").replace(/\.$/, "");
    return e === undefined ? mant : mant + "e" + e;
  }
  function repr(x) {  // a float as Python prints it: shortest digits, scientific below 1e-4 and from 1e16
    const [m, e] = Math.abs(x).toExponential().split("e");
    const exp = parseInt(e, 10), digits = m.replace(".", "");
    if (exp >= -4 && exp < 16) {
      if (exp >= 0) {
        const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0"), frac = digits.slice(exp + 1);
        return intPart + "." + (frac || "0");
      }
      return "0." + "0".repeat(-exp - 1) + digits;
    }
    const ee = Math.abs(exp) < 10 ? "0" + Math.abs(exp) : String(Math.abs(exp));
    return digits[0] + (digits.length > 1 ? "." + digits.slice(1) : "") + "e" + (exp < 0 ? "-" : "+") + ee;
  }
  function format(x, spec) {
    if (x === null || x === undefined) { if (spec) throw new PyError("TypeError", "format None"); return "None"; }
    if (typeof x === "boolean") return x ? "True" : "False";
    if (typeof x === "string") { if (spec) throw new PyError("ValueError", "format spec on a string"); return x; }
    const m = /^(,)?(?:\.(\d+))?([fgde%])?$/.exec(spec);
    if (!m) throw new PyError("ValueError", "format spec " + spec + " is not supported");
    const comma = !!m[1], type = m[3] || "", prec = m[2] === undefined ? null : parseInt(m[2], 10);
    const neg = x < 0 || Object.is(x, -0), a = Math.abs(type === "%" ? x * 100 : x);
    let s;
    if (!Number.isFinite(a)) s = (Number.isNaN(a) ? "nan" : "inf") + (type === "%" ? "%" : "");
    else if (type === "f") s = fixed(a, prec === null ? 6 : prec, comma);
    else if (type === "%") s = fixed(a, prec === null ? 6 : prec, comma) + "%";
    else if (type === "e") s = sci(a, prec === null ? 6 : prec);
    else if (type === "g") s = general(a, prec === null ? 6 : prec, comma);
    else if (type === "d" || (type === "" && prec === null && Number.isInteger(x))) {
      if (!Number.isInteger(x)) throw new PyError("ValueError", "d format of a float");
      s = comma ? group(String(a)) : String(a);
    } else if (type === "" && prec === null) {
      s = repr(a);
      if (comma && !s.includes("e")) s = group(s.split(".")[0]) + "." + s.split(".")[1];
    }
    else s = general(a, prec, comma);
    return (neg && !Number.isNaN(x) ? "-" : "") + s;
  }
  function round(x, n) {
    if (n === undefined || n === null) {
      const f = Math.floor(x), diff = x - f;
      if (diff > 0.5) return f + 1;
      if (diff < 0.5) return f;
      return f % 2 === 0 ? f : f + 1;
    }
    if (!Number.isFinite(x) || x === 0) return x;
    return (x < 0 ? -1 : 1) * parseFloat(fixed(Math.abs(x), n, false));
  }
  function floordiv(a, b) {  // CPython's float floor division
    if (b === 0) throw new PyError("ZeroDivisionError", "division by zero");
    const mod = a % b;
    let div = (a - mod) / b;
    if (mod && ((b < 0) !== (mod < 0))) div -= 1;
    let q = Math.floor(div);
    if (div - q > 0.5) q += 1;
    return q;
  }
  function mod(a, b) {
    if (b === 0) throw new PyError("ZeroDivisionError", "modulo by zero");
    let r = a % b;
    if (r && ((b < 0) !== (r < 0))) r += b;
    return r;
  }
  return {
    Error: PyError, truthy, iter, contains, len, getitem, format, round, floordiv, mod,
    or: (a, f) => (truthy(a) ? a : f()),
    and: (a, f) => (truthy(a) ? f() : a),
    list: (x) => [...iter(x)],
    str: (x) => format(x, ""),
    int: (x) => (typeof x === "boolean" ? +x : Math.trunc(x)),
    max: (...xs) => xs.reduce((a, b) => (cmp(b, a) > 0 ? b : a)),
    min: (...xs) => xs.reduce((a, b) => (cmp(b, a) < 0 ? b : a)),
    max_by: (xs, key) => extreme(xs, key, 1),
    min_by: (xs, key) => extreme(xs, key, -1),
    sorted_by: (xs, key) => [...iter(xs)].map((x, i) => [key(x), i, x]).sort((p, q) => cmp(p[0], q[0]) || p[1] - q[1])
      .map((t) => t[2]),
    sorted: (xs) => [...iter(xs)].sort(cmp),
    sum: (xs) => iter(xs).reduce((a, b) => a + b, 0),
    any: (xs) => iter(xs).some(truthy),
    all: (xs) => iter(xs).every(truthy),
    next: (xs, dflt) => { const a = iter(xs); return a.length ? a[0] : dflt; },
    getattr: (o, name) => { if (!(name in o)) throw new PyError("AttributeError", name); return o[name]; },
    get: (d, k, dflt = null) => (Object.prototype.hasOwnProperty.call(d, k) ? d[k] : dflt),
    items: (d) => Object.entries(d),
    values: (d) => Object.values(d),
    keys: (d) => Object.keys(d),
    append: (xs, x) => { xs.push(x); return null; },
    join: (sep, xs) => iter(xs).join(sep),
    startswith: (s, p) => s.startsWith(p),
    replace: (s, a, b) => s.split(a).join(b),
    copy: (o, update) => Object.assign(Object.create(Object.getPrototypeOf(o)), o, update || {}),
  };
})();
