import { toYaml } from "../../lib/yaml";

describe("toYaml", () => {
  test("block maps and lists, JSON-quoted strings, plain numbers and booleans", () => {
    expect(toYaml({ a: "x", b: 2, c: true, d: ["p", { q: 1, r: [] }], e: {}, f: undefined }, ["head"])).toBe(
      ["# head", 'a: "x"', "b: 2", "c: true", "d:", '  - "p"', "  - q: 1", "    r: []", "e: {}", ""].join("\n"),
    );
  });

  test("a value cannot change the structure: colons, hashes, quotes and newlines stay inside the scalar", () => {
    const text = toYaml({ k: 'a: b # c "d"\nsecond: line' });
    expect(text).toBe('k: "a: b # c \\"d\\"\\nsecond: line"\n');
    expect(text.split("\n").filter((l) => l !== "")).toHaveLength(1);
  });

  test("keys that are not plain identifiers are quoted", () => {
    expect(toYaml({ "a b": 1, "ok_key.x-y": 2 })).toBe('"a b": 1\nok_key.x-y: 2\n');
  });

  test("refuses a number YAML cannot carry", () => {
    expect(() => toYaml({ n: Number.NaN })).toThrow(/finite/);
  });
});
