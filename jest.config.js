/** Unit tests and the real-binary e2e suite run together; e2e needs caddy, nginx, openssl, prometheus and promtool on PATH. */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  // test/engine runs in its own pass against a real engine (jest.engine.config.js).
  testPathIgnorePatterns: ["/node_modules/", "<rootDir>/test/engine/"],
  transform: { "^.+\\.ts$": ["ts-jest", {}] },
  testTimeout: 30000,
};
