// Prints the SecurityPolicy rule table, or with `--write <file>` refreshes it between the
// <!-- rules:start --> and <!-- rules:end --> markers of that file (README.md).
import * as fs from "fs";
import { SecurityPolicy } from "../lib/policy/security-policy";
import { renderRuleTable, replaceRuleTable } from "../lib/policy/rule-table";

const writeAt = process.argv.indexOf("--write");
if (writeAt >= 0) {
  const file = process.argv[writeAt + 1];
  if (!file) throw new Error("usage: ts-node scripts/rule-table.ts [--write <markdown file>]");
  fs.writeFileSync(file, replaceRuleTable(fs.readFileSync(file, "utf8"), SecurityPolicy.rules));
  console.log(`rule table written to ${file}`);
} else {
  console.log(renderRuleTable(SecurityPolicy.rules));
}
