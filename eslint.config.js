// Lint rules that keep the layers honest: domain is pure, ops never touch the terminal, core never reaches up.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const terminalLibs = ['commander', 'chalk', 'ora', '@inquirer/prompts', 'cli-table3'];
const sideEffectModules = ['node:fs', 'node:fs/promises', 'node:net', 'node:dgram', 'node:child_process', 'node:http', 'node:https', 'node:os'];
const pattern = (names) => names.map((name) => ({ name, message: 'not allowed in this layer (see design.md)' }));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'completions/**', 'man/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly', setImmediate: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: pattern([...terminalLibs, ...sideEffectModules]), patterns: [{ group: ['**/ops/**', '**/cli/**', '**/core/**'], message: 'domain is pure' }] }],
    },
  },
  {
    files: ['src/ops/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: pattern(terminalLibs), patterns: [{ group: ['**/cli/**'], message: 'ops never import the cli layer' }] }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: pattern(terminalLibs), patterns: [{ group: ['**/ops/**', '**/cli/**'], message: 'core never imports ops or cli' }] }],
    },
  },
);
