import type { Request, Response } from 'express';
import { describe, expectTypeOf, it } from 'vitest';
import '@sess/express';

declare module '@sess/core' {
  interface SessionData {
    visits: number;
    userId: string;
  }
}

declare const req: Request;
declare const res: Response;

describe('req.session is typed by SessionData', () => {
  it('checks keys and values on the request and in res.locals', () => {
    expectTypeOf(req.session.get('visits')).toEqualTypeOf<number | undefined>();
    req.session.put('userId', 'u1').increment('visits');
    // @ts-expect-error: a string where a number is declared
    req.session.put('visits', 'nope');
    // @ts-expect-error: an undeclared key
    req.session.put('typo', 1);
    // @ts-expect-error: userId is not numeric
    req.session.increment('userId');
    // @ts-expect-error: an undeclared key
    res.locals.session.get('typo');
  });
});
