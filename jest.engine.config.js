/**
 * The engine suite (test/engine): real containers on the Docker engine that scripts/docker-engine.sh
 * starts. Files run one at a time (--runInBand in package.json): the stacks share container names.
 */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/test/engine"],
  testMatch: ["**/*.engine.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", {}] },
  globalSetup: "<rootDir>/test/engine/global-setup.ts",
  testTimeout: 240000,
};
