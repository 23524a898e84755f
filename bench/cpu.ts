/**
 * CPU time of process trees, from /proc (Linux). Latency and throughput swing with whatever else
 * runs on the machine; CPU time spent per request does much less, so the benchmark reports both.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
    const n = Number((r.stdout ?? "").trim());
    ticksPerSecond = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return ticksPerSecond;
}

/** pid -> [ppid, user+system ticks] of every live process; fields as in proc(5), after the ")" of comm. */
function readProcTable(): Map<number, [number, number]> {
  const table = new Map<number, [number, number]>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    table.set(Number(entry), [Number(rest[1]), Number(rest[11]) + Number(rest[12])]);
  }
  return table;
}

/** Whether /proc is there to read (Linux). */
export function canMeasureCpu(): boolean {
  return fs.existsSync("/proc/self/stat");
}

/** User + system CPU ms of each process in `roots` together with all its descendants (e.g. nginx's workers). */
export function treeCpuMsEach(roots: readonly number[]): number[] {
  const table = readProcTable();
  const children = new Map<number, number[]>();
  for (const [pid, [ppid]] of table) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  return roots.map((root) => {
    let ticks = 0;
    const seen = new Set<number>();
    const stack = [root];
    while (stack.length > 0) {
      const pid = stack.pop()!;
      if (seen.has(pid)) continue;
      seen.add(pid);
      ticks += table.get(pid)?.[1] ?? 0;
      stack.push(...(children.get(pid) ?? []));
    }
    return (ticks * 1000) / clockTicks();
  });
}

/** This process's user + system CPU ms. */
export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
