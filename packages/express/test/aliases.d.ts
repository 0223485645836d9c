// The npm aliases of the two majors share the types of `express` (@types/express).
declare module 'express4' {
  import express from 'express';
  export default express;
}
declare module 'express5' {
  import express from 'express';
  export default express;
}
