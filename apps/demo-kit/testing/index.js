export { startDemo } from './start-demo.js';
export { launchChromium } from './chromium.js';
export { browserScenario, storeDownScenario } from './scenario.js';
