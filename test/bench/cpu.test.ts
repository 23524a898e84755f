import { spawn } from "child_process";
import { canMeasureCpu, treeCpuMsEach } from "../../bench/cpu";

// The child burns 300 ms of its own CPU time (not wall time), says so, then waits for stdin to close.
const BURN = `
const t = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const start = t();
while (t() - start < 300) {}
process.stdout.write("burnt\\n");
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
`;

test("CPU time of a process tree includes its children's (as nginx's workers under the master)", async () => {
  expect(canMeasureCpu()).toBe(true);
  const [parentBefore] = treeCpuMsEach([process.pid]);
  const child = spawn(process.execPath, ["-e", BURN], { stdio: ["pipe", "pipe", "inherit"] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (d: Buffer) => d.toString().includes("burnt") && resolve());
      child.once("exit", (code) => reject(new Error(`child exited early (${code})`)));
    });
    const [parentTree, childTree] = treeCpuMsEach([process.pid, child.pid!]);
    // /proc counts in clock ticks (10 ms at CLK_TCK 100): allow one tick less than the 300 ms burnt.
    expect(childTree).toBeGreaterThanOrEqual(290);
    expect(parentTree - parentBefore).toBeGreaterThanOrEqual(childTree);
  } finally {
    child.stdin!.end();
    await new Promise((resolve) => child.once("exit", resolve));
  }
});
