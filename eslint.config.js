// Lint rules that keep the layers honest (cli -> app -> ops -> domain, core; sim beside them), static and dynamic
// imports alike: domain is pure, ops never touch the terminal, core never reaches up, cli assembles nothing.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const terminalLibs = ['commander', 'chalk', 'ora', '@inquirer/prompts', 'cli-table3'];
const sideEffectModules = ['node:fs', 'node:fs/promises', 'node:net', 'node:dgram', 'node:child_process', 'node:http', 'node:https', 'node:os'];
const pattern = (names) => names.map((name) => ({ name, message: 'not allowed in this layer (see design.md)' }));
// Lazy imports are how most cross-layer imports are written: `await import('../core/…')` is held to the same rules.
const dynamicImport = (layers, message) => ({ selector: `ImportExpression > Literal[value=/(^|\\/)(${layers.join('|')})\\//]`, message });

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
      'no-restricted-imports': ['error', { paths: pattern([...terminalLibs, ...sideEffectModules]), patterns: [{ group: ['**/ops/**', '**/cli/**', '**/core/**', '**/app/**', '**/sim/**'], message: 'domain is pure' }] }],
      'no-restricted-syntax': ['error', dynamicImport(['ops', 'cli', 'core', 'app', 'sim'], 'domain is pure')],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: pattern(terminalLibs), patterns: [{ group: ['**/ops/**', '**/cli/**', '**/app/**'], message: 'core never imports ops, app or cli' }] }],
      'no-restricted-syntax': ['error', dynamicImport(['ops', 'cli', 'app'], 'core never imports ops, app or cli')],
    },
  },
  {
    files: ['src/ops/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: pattern(terminalLibs), patterns: [{ group: ['**/cli/**', '**/app/**'], message: 'ops never import the app or cli layer' }] }],
      'no-restricted-syntax': ['error', dynamicImport(['cli', 'app'], 'ops never import the app or cli layer')],
    },
  },
  {
    files: ['src/app/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: pattern(terminalLibs), patterns: [{ group: ['**/cli/**'], message: 'the application layer never imports the cli layer' }] }],
      'no-restricted-syntax': ['error', dynamicImport(['cli'], 'the application layer never imports the cli layer')],
    },
  },
  {
    // The command layer assembles nothing: it reaches ops, core and sim only through src/app (types excepted).
    files: ['src/cli/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ group: ['**/core/**', '**/ops/**', '**/sim/**'], message: 'cli imports core, ops and sim only as types; values come through src/app', allowTypeImports: true }] }],
      'no-restricted-syntax': ['error', dynamicImport(['core', 'ops', 'sim'], 'cli imports core, ops and sim only as types; values come through src/app')],
    },
  },
  {
    // One command module never reaches into another: shared wiring lives in src/app, shared rendering in src/cli/io.
    files: ['src/cli/commands/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/core/**', '**/ops/**', '**/sim/**'], message: 'cli imports core, ops and sim only as types; values come through src/app', allowTypeImports: true },
            { group: ['./*'], message: 'a command module never imports another command module' },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        dynamicImport(['core', 'ops', 'sim'], 'cli imports core, ops and sim only as types; values come through src/app'),
        { selector: "ImportExpression > Literal[value=/^\\.\\//]", message: 'a command module never imports another command module' },
      ],
    },
  },
  {
    // Daemon code must not drop a promise on the floor: a lost rejection there is a loop that silently stops.
    files: ['src/ops/daemon/**/*.ts', 'src/app/daemon/**/*.ts', 'src/cli/commands/daemon.ts', 'src/cli/main.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
    },
  },
);
