// Turns the ES-module JupyterLab packages into CommonJS for jest (see jest.config.js).
module.exports = require('@jupyterlab/testing/lib/babel-config');
