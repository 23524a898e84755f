// Prints the zta-probe check list, or with `--write <file>` refreshes it between the
// <!-- probe-checks:start --> and <!-- probe-checks:end --> markers of that file (docs/probe.md).
import * as fs from "fs";
import { CHECKS } from "../lib/probe/checks";
import { renderCheckList, replaceCheckList } from "../lib/probe/check-list";

const writeAt = process.argv.indexOf("--write");
if (writeAt >= 0) {
  const file = process.argv[writeAt + 1];
  if (!file) throw new Error("usage: ts-node scripts/probe-checks.ts [--write <markdown file>]");
  fs.writeFileSync(file, replaceCheckList(fs.readFileSync(file, "utf8"), CHECKS));
  console.log(`probe check list written to ${file}`);
} else {
  console.log(renderCheckList(CHECKS));
}
