// The npm aliases of the lowest and highest tested Hono share the types of `hono`.
declare module 'hono-lowest' {
  export * from 'hono';
}
declare module 'hono-latest' {
  export * from 'hono';
}
declare module 'hono-node-server-2' {
  export * from '@hono/node-server';
}
