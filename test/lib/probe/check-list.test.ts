import * as fs from "fs";
import * as path from "path";
import { CHECKS } from "../../../lib/probe/checks";
import { CHECKS_END, CHECKS_START, renderCheckList, replaceCheckList } from "../../../lib/probe/check-list";

const README = path.join(__dirname, "..", "..", "..", "docs", "probe.md");

describe("the documented probe check list", () => {
  test("docs/probe.md carries the list, equal to the one rendered from the check table (scripts/probe-checks.ts --write docs/probe.md refreshes it)", () => {
    const text = fs.readFileSync(README, "utf8");
    expect(text).toContain(CHECKS_START);
    expect(text).toBe(replaceCheckList(text, CHECKS));
  });

  test("one row per check, ids unique, pipes escaped", () => {
    expect(renderCheckList(CHECKS).split("\n")).toHaveLength(CHECKS.length + 2);
    expect(new Set(CHECKS.map((c) => c.id)).size).toBe(CHECKS.length);
    expect(renderCheckList([{ ...CHECKS[0], meaning: "a | b" }])).toContain("a \\| b");
  });

  test("a document without markers is an error, not a silent no-op", () => {
    expect(() => replaceCheckList("# README\n", CHECKS)).toThrow(CHECKS_START);
    expect(replaceCheckList(`x\n${CHECKS_START}\nstale-list\n${CHECKS_END}\ny`, CHECKS)).not.toContain("stale-list");
  });

  test("the rate-limit burst runs last: it leaves the identity rate-limited", () => {
    expect(CHECKS[CHECKS.length - 1].id).toBe("limits-rate");
  });
});
