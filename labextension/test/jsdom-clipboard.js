// jsdom has no Clipboard API; @jupyterlab/apputils warns on import without one.
Object.defineProperty(globalThis.navigator, 'clipboard', {
  configurable: true,
  value: {
    read: async () => [],
    readText: async () => '',
    write: async () => undefined,
    writeText: async () => undefined
  }
});
