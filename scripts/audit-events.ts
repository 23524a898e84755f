// Prints the audit event table, or with `--write <file>` refreshes it between the
// <!-- audit-events:start --> and <!-- audit-events:end --> markers of that file (docs/audit.md).
import * as fs from "fs";
import { renderEventTable, replaceEventTable } from "../lib/audit-events";

const writeAt = process.argv.indexOf("--write");
if (writeAt >= 0) {
  const file = process.argv[writeAt + 1];
  if (!file) throw new Error("usage: ts-node scripts/audit-events.ts [--write <markdown file>]");
  fs.writeFileSync(file, replaceEventTable(fs.readFileSync(file, "utf8")));
  console.log(`audit event table written to ${file}`);
} else {
  console.log(renderEventTable());
}
