// ESLint over the pages Switchboard serves: plain ES modules, no build
// step, so what is linted is what browsers run. Vendored files are not ours.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["**/vendor/**", "target/**", "**/node_modules/**", "tests/**"] },
  js.configs.recommended,
  {
    files: ["crates/*/web/**/*.js"],
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: "module",
      globals: {
        ...globals.browser,
        // The designer draws with the vendored Drawflow, loaded as a classic script.
        Drawflow: "readonly",
      },
    },
    rules: {
      "no-unused-vars": ["error", { args: "none", caughtErrors: "none" }],
      eqeqeq: ["error", "always", { null: "ignore" }],
      "no-var": "error",
      "prefer-const": "error",
      "no-implicit-globals": "error",
      "no-shadow-restricted-names": "error",
    },
  },
];
