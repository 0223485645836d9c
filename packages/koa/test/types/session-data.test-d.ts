import type { Context } from 'koa';
import { describe, expectTypeOf, it } from 'vitest';
import '@sess/koa';

declare module '@sess/core' {
  interface SessionData {
    visits: number;
    userId: string;
  }
}

declare const ctx: Context;

describe('ctx.session is typed by SessionData', () => {
  it('checks keys and values on the context and in ctx.state', () => {
    expectTypeOf(ctx.session.get('visits')).toEqualTypeOf<number | undefined>();
    ctx.session.put('userId', 'u1').increment('visits');
    // @ts-expect-error: a string where a number is declared
    ctx.session.put('visits', 'nope');
    // @ts-expect-error: an undeclared key
    ctx.session.flash('typo', 'x');
    // @ts-expect-error: userId is not numeric
    ctx.state.session.increment('userId');
  });
});
