export { requireService, SERVICES, type ServiceName } from './services.js';
export { HttpClient } from './http-client.js';
export { testScenarios, ControlledStore, type ScenarioServer, type ScenarioTarget } from './scenarios.js';
export { listenOnLoopback, type LoopbackServer } from './server.js';
