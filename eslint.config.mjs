// ESLint flat config: the recommended JavaScript and typescript-eslint rules, nothing stylistic
// (formatting is Prettier's job, .prettierrc.json).
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "cdktf.out/", ".gen/", "docs/api/", "bench/results/", "coverage/"] },
  eslint.configs.recommended,
  tseslint.configs.recommended,
  {
    // The CommonJS config files (jest.config.js).
    files: ["**/*.js"],
    languageOptions: { sourceType: "commonjs", globals: { module: "writable", require: "readonly" } },
  },
  {
    // Tests walk synthesized Terraform JSON and API responses, which have no static type; the
    // library itself is held to the rule.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
);
