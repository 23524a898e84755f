// ESLint flat config: the recommended JavaScript and typescript-eslint rules, nothing stylistic
// (formatting is Prettier's job, .prettierrc.json).
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "cdktf.out/", "docs/api/", "bench/results/", "coverage/"] },
  eslint.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: { require: "readonly", module: "writable", __dirname: "readonly", process: "readonly", console: "readonly" } },
  },
);
