import * as fs from "fs";
import * as path from "path";
import * as api from "../../index";

/**
 * The exported surface stays publishable to other languages (DESIGN.md: jsii-shaped): a class may not
 * have a static and an instance member of the same name (C# and Java refuse it), and the image catalog
 * is a class, not a plain object.
 */
function instanceMembers(cls: { prototype: object }, sample?: object): Set<string> {
  const names = new Set<string>();
  for (let p: object | null = cls.prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p))
    for (const n of Object.getOwnPropertyNames(p)) names.add(n);
  if (sample) for (const n of Object.keys(sample)) names.add(n);
  return names;
}

/** Static members a class declares itself (not Function's own `length`, `name`, `prototype`). */
function staticMembers(cls: object): string[] {
  return Object.getOwnPropertyNames(cls).filter(
    (n) => !["length", "name", "prototype", "caller", "arguments"].includes(n),
  );
}

/** The names declared both ways: the declared instance fields come from the TypeScript source. */
export function collisions(cls: { prototype: object }, declaredFields: string[]): string[] {
  const instance = instanceMembers(cls);
  for (const f of declaredFields) instance.add(f);
  return staticMembers(cls).filter((n) => instance.has(n));
}

describe("the public surface is jsii-shaped", () => {
  test("no exported class has a static and an instance member of the same name", () => {
    const found: string[] = [];
    for (const [name, value] of Object.entries(api)) {
      if (typeof value !== "function" || !/^class\s/.test(Function.prototype.toString.call(value))) continue;
      // Instance fields exist only on instances: read `public readonly x` declarations from the source.
      const sources = ["constructs", "lib", "lib/policy"].flatMap((d) =>
        fs
          .readdirSync(path.join(__dirname, "..", "..", d))
          .filter((f) => f.endsWith(".ts"))
          .map((f) => fs.readFileSync(path.join(__dirname, "..", "..", d, f), "utf8")),
      );
      const body = sources.find((s) => new RegExp(`export class ${name}\\b`).test(s)) ?? "";
      const start = body.indexOf(`export class ${name}`);
      const fields = [...body.slice(start).matchAll(/^ {2}public (?:readonly )?(\w+)[!?]?:/gm)].map((m) => m[1]);
      for (const n of collisions(value as { prototype: object }, fields)) found.push(`${name}.${n}`);
    }
    expect(found).toEqual([]);
  });

  test("the check finds a collision (so a pass means something)", () => {
    class Both {
      public static suggested(): string {
        return "";
      }
      public suggested?: string;
    }
    expect(collisions(Both, ["suggested"])).toEqual(["suggested"]);
  });

  test("the image catalog is a class; no plain IMAGES object is exported", () => {
    expect("IMAGES" in api).toBe(false);
    expect(api.ImageCatalog.CADDY.reference).toMatch(/^caddy:.*@sha256:[0-9a-f]{64}$/);
    expect(Object.keys(api.ImageCatalog.entries())).toContain("vllm");
  });
});
