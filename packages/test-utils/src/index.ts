export { requireService, SERVICES, type ServiceName } from './services.js';
// The adapter suite and its client are published from @sess/core/testing; re-exported for this repo's tests.
export { ControlledStore, HttpClient, testAdapter, testScenarios, type ScenarioServer, type ScenarioTarget } from '@sess/core/testing';
export { listenOnLoopback, type LoopbackServer } from './server.js';
export { testStoreEconomy, startLifecycleEconomyApp, ECONOMY_SECRET, type StoreEconomyTarget, type EconomySessionOptions, type EconomyServer, type BackendCounter } from './store-economy.js';
