import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

const orchestratorNames = ["dagster", "airflow", "prefect"];

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "**/.baton/**", "**/.venvs/**", "**/.turbo/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // Principle 2: core knows no orchestrator and no adapter.
    files: ["packages/core/src/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["@baton/adapter-*", "@baton/testing", "@baton/testing/*"], message: "core must not import adapters or testing" },
            ...orchestratorNames.map((n) => ({ group: [`*${n}*`], message: `core must not import anything named after ${n}` })),
          ],
        },
      ],
    },
  },
  {
    // Principle 1: business logic is plain functions with no Baton import.
    files: ["examples/*/src/logic/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["@baton/*", "@baton/**"], message: "business logic imports no Baton: keep it a pure function" }] }],
    },
  },
);
