/**
 * The e2e harness, split by concern under test/support/ (where the benchmarks import it from too).
 * This barrel keeps `import ... from "./harness"` working for the tests that still use it.
 */
export * from "../support/chain";
export * from "../support/client";
export * from "../support/mocks";
export * from "../support/pki";
export * from "../support/processes";
export * from "../support/render";
