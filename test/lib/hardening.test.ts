import { hardenedContainer, tmpfsOptions } from "../../lib/hardening";

describe("hardenedContainer", () => {
  const base = { memoryMb: 256, cpuShares: 512, healthcheck: ["true"] };

  test("locks the container down", () => {
    const c = hardenedContainer(base);
    expect(c).toMatchObject({
      readOnly: true,
      capabilities: { drop: ["ALL"] },
      securityOpts: ["no-new-privileges:true"],
      memory: 256,
      memorySwap: 256,
      cpuShares: 512,
      restart: "on-failure",
      maxRetryCount: 5,
      logDriver: "json-file",
      logOpts: { "max-size": "10m", "max-file": "5" },
      tmpfs: { "/tmp": "rw,noexec,nosuid,nodev,size=64m" },
      mustRun: true,
      destroyGraceSeconds: 10,
    });
    expect(c.healthcheck).toMatchObject({ test: ["CMD", "true"], startPeriod: "20s" });
    expect(c.cpus).toBeUndefined(); // panics in provider 3.6.2
    expect(c.user).toBeUndefined();
  });

  test("a hard CPU cap uses cpu_period and cpu_quota, never cpus", () => {
    const c = hardenedContainer({ ...base, cpuLimit: 1.5, user: "101:101" });
    expect([c.cpuPeriod, c.cpuQuota, c.cpus, c.user]).toEqual([100000, 150000, undefined, "101:101"]);
  });

  test("tmpfs mounts are noexec and sized", () => {
    expect(tmpfsOptions(16)).toBe("rw,noexec,nosuid,nodev,size=16m");
  });
});
