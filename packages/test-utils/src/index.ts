export { requireService, SERVICES, type ServiceName } from './services.js';
export { HttpClient } from './http-client.js';
