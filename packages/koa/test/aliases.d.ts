// The npm aliases of the two majors share the types of `koa` (@types/koa).
declare module 'koa2' {
  import Koa from 'koa';
  export default Koa;
}
declare module 'koa3' {
  import Koa from 'koa';
  export default Koa;
}
