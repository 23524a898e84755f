/**
 * A minimal YAML emitter for the configs the library renders (Prometheus, its web config, alert
 * rules, Grafana provisioning). Block style for maps and lists; every string is written as a JSON
 * string, which is a valid YAML double-quoted scalar, so no value can change the structure
 * (a `:` or `#` in a label, a newline in a description). Numbers and booleans are plain scalars.
 *
 * A Terraform reference inside a string stays inside its quotes; one that resolves to text with
 * quotes or newlines (a PEM) must be passed through `Fn.jsonencode` by the caller instead.
 */
function scalar(value: string | number | boolean): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" && !Number.isFinite(value)) throw new Error(`YAML: not a finite number: ${value}`);
  return String(value);
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value !== "object";
}

function keyText(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key) ? key : JSON.stringify(key);
}

function emit(value: unknown, indent: string): string[] {
  if (Array.isArray(value)) {
    if (value.length === 0) return [`${indent}[]`];
    const lines: string[] = [];
    for (const item of value) {
      if (isScalar(item)) {
        lines.push(`${indent}- ${scalar(item)}`);
      } else {
        const inner = emit(item, `${indent}  `);
        // The first line of the nested block goes on the dash line.
        lines.push(`${indent}- ${inner[0].slice(indent.length + 2)}`, ...inner.slice(1));
      }
    }
    return lines;
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return [`${indent}{}`];
    const lines: string[] = [];
    for (const [key, v] of entries) {
      if (isScalar(v)) {
        lines.push(`${indent}${keyText(key)}: ${scalar(v)}`);
      } else if (Array.isArray(v) && v.length === 0) {
        lines.push(`${indent}${keyText(key)}: []`);
      } else if (!Array.isArray(v) && Object.keys(v as object).length === 0) {
        lines.push(`${indent}${keyText(key)}: {}`);
      } else {
        lines.push(`${indent}${keyText(key)}:`, ...emit(v, `${indent}  `));
      }
    }
    return lines;
  }
  return [`${indent}${scalar(value as string)}`];
}

/** The YAML text of `value`, ending in a newline. `header` lines become `#` comments on top. */
export function toYaml(value: unknown, header: string[] = []): string {
  const comments = header.map((h) => `# ${h}`);
  return [...comments, ...emit(value, "")].join("\n") + "\n";
}
