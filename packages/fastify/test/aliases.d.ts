// The npm aliases ship their own types; the tests type against `fastify` (5), whose API they use.
declare module 'fastify4' {
  import fastify from 'fastify';
  export default fastify;
}
declare module 'fastify5' {
  import fastify from 'fastify';
  export default fastify;
}
declare module 'fastify-view9' {
  import view from '@fastify/view';
  export default view;
}
declare module 'ejs';
