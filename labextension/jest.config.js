/*
 * Unit tests of the panel (test/*.spec.ts[x]): jest with ts-jest in jsdom, configured by
 * JupyterLab's own @jupyterlab/testing (its shims give jsdom fetch, Request and Response).
 */
const jestJupyterLab = require('@jupyterlab/testing/lib/jest-config');

// Packages shipped as ES modules, which babel turns into CommonJS for jest.
const esModules = [
  '@codemirror',
  '@jupyter/react-components',
  '@jupyter/web-components',
  '@jupyter/ydoc',
  '@jupyterlab/',
  '@marijn',
  '@microsoft',
  'color',
  'exenv-es6',
  'lib0',
  'marked',
  'nanoid',
  'vscode-ws-jsonrpc',
  'y-protocols',
  'y-websocket',
  'yjs'
].join('|');

const baseConfig = jestJupyterLab(__dirname);

module.exports = {
  ...baseConfig,
  automock: false,
  // No junit.xml or GitHub annotations: pytest (tests/ui/test_unit_js.py) reads the summary.
  reporters: ['default'],
  setupFiles: [...baseConfig.setupFiles, '<rootDir>/test/jsdom-clipboard.js'],
  // Generous: CI machines have 2 cores and run other suites beside this one.
  testTimeout: 30_000,
  testRegex: '/test/.*\\.spec\\.tsx?$',
  transformIgnorePatterns: [`/node_modules/(?!${esModules}).+`]
};
