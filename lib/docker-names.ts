import { TerraformResource, TerraformStack, Token } from "cdktf";
import { ConfigProblem, readablePath } from "./errors";

/** Docker resources whose `name` must be unique on one Docker host. */
const NAMED_TYPES: Record<string, string> = {
  docker_container: "container",
  docker_network: "network",
  docker_volume: "volume",
};

/**
 * Two Docker resources of one kind with the same literal name (in any construct of the stack,
 * the user's own included): Docker would refuse the second, or one would silently replace the
 * other's outputs. Names Terraform computes are not compared.
 */
export function duplicateDockerNames(stack: TerraformStack): ConfigProblem[] {
  const seen = new Map<string, string>();
  const problems: ConfigProblem[] = [];
  for (const node of stack.node.findAll()) {
    if (!TerraformResource.isTerraformResource(node)) continue;
    const kind = NAMED_TYPES[node.terraformResourceType];
    if (!kind) continue;
    // The generated `name` getter is a reference to the attribute; `nameInput` is what was set.
    const name = (node as unknown as { nameInput?: unknown }).nameInput;
    if (typeof name !== "string" || Token.isUnresolved(name)) continue;
    const key = `${kind}:${name}`;
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, readablePath(node.node.path));
      continue;
    }
    problems.push({
      prop: "name",
      received: JSON.stringify(name),
      fix:
        `Docker ${kind} names must be unique, but "${first}" and "${readablePath(node.node.path)}" both use it. ` +
        "Give each construct its own name (SecureInference: namePrefix; others: name).",
      where: `Docker ${kind} "${name}"`,
    });
  }
  return problems;
}
