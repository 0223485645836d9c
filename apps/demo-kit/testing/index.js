export { startDemo } from './start-demo.js';
export { launchChromium } from './chromium.js';
export { browserScenario } from './scenario.js';
