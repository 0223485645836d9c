import { createApp } from './app.mjs';
// Built on the first request: Workers refuse timers (the MemoryStore's sweeper) in the global scope.
let app;
export default { fetch: (request, env, ctx) => (app ??= createApp()).fetch(request, env, ctx) };
