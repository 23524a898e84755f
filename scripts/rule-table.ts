// Prints RULES.md (the SecurityPolicy rules, rendered from their metadata), or with `--write <file>`
// writes it there (`npm run docs` writes RULES.md).
import * as fs from "fs";
import { SecurityPolicy } from "../lib/policy/security-policy";
import { renderRulesDocument } from "../lib/policy/rule-table";

const text = renderRulesDocument(SecurityPolicy.rules);
const writeAt = process.argv.indexOf("--write");
if (writeAt >= 0) {
  const file = process.argv[writeAt + 1];
  if (!file) throw new Error("usage: ts-node scripts/rule-table.ts [--write <markdown file>]");
  fs.writeFileSync(file, text);
  console.log(`rules written to ${file}`);
} else {
  process.stdout.write(text);
}
