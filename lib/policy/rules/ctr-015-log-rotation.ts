import { record } from "../docker";
import { PolicyRule, RuleSeverity, compliant, nonCompliant } from "../types";
import { skipNeverStarted } from "./common";

/** Drivers that keep logs in files on the host without rotating them unless told to. */
const FILE_DRIVERS = ["json-file", ""];

export const logRotation: PolicyRule = {
  meta: {
    id: "ZTA-CTR-015",
    title: "No log rotation",
    explanation:
      "Docker's default `json-file` driver never rotates: a chatty service (or an attacker flooding requests into an access log) fills the host's disk. The `local` driver and drivers that ship logs off the host are fine.",
    fix: 'Set `log_driver = "json-file"` with `log_opts = { "max-size" = "10m", "max-file" = "5" }`, or use the `local` driver.',
    severity: RuleSeverity.LOW,
    references: ["Docker documentation: Configure logging drivers (json-file max-size / max-file)"],
    resourceTypes: ["docker_container"],
  },
  check(c) {
    const skip = skipNeverStarted(c);
    if (skip) return skip;
    const driver = typeof c.config.log_driver === "string" ? c.config.log_driver : "";
    if (!FILE_DRIVERS.includes(driver)) return compliant();
    const opts = record(c.config.log_opts);
    return typeof opts["max-size"] === "string" && opts["max-size"] !== ""
      ? compliant()
      : nonCompliant(`log driver ${driver || "(daemon default, json-file)"} without log_opts max-size`);
  },
};
