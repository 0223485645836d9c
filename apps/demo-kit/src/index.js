export { setupDemo } from './config.js';
export { DemoSetupError, exitWithError } from './errors.js';
export { loadSecret } from './secret.js';
export { openStore, STORE_NAMES } from './stores.js';
export { html, raw, escapeHtml } from './html.js';
export * as views from './views.js';
export { styleSheet } from './style.js';
export * as actions from './actions.js';
export { serve } from './serve.js';
