import { describe, expectTypeOf, it } from 'vitest';
import type { Session } from '../src/index.js';

interface AppData {
  visits: number;
  userId: string;
  cart?: string[];
  notice?: string;
}

declare const session: Session<AppData>;
declare const untyped: Session<Record<string, any>>;

describe('typed session data', () => {
  it('get is typed by key, with and without a default', () => {
    expectTypeOf(session.get('visits')).toEqualTypeOf<number | undefined>();
    expectTypeOf(session.get('visits', 0)).toEqualTypeOf<number>();
    expectTypeOf(session.get('cart', [])).toEqualTypeOf<string[]>();
    // @ts-expect-error: not a key of the data
    session.get('typo');
    // @ts-expect-error: a default of the wrong type
    session.get('visits', 'none');
  });

  it('put and set take only the declared keys and value types', () => {
    session.put('visits', 1).set('userId', 'u1').put('cart', ['a']);
    // @ts-expect-error: a string where a number is declared
    session.put('visits', 'nope');
    // @ts-expect-error: a number where a string is declared
    session.put('userId', 42);
    // @ts-expect-error: an undeclared key
    session.put('typo', 1);
    // @ts-expect-error: set is put under another name
    session.set('typo', 1);
  });

  it('has and remove take declared keys only', () => {
    expectTypeOf(session.has('cart')).toEqualTypeOf<boolean>();
    session.remove('cart');
    // @ts-expect-error: an undeclared key
    session.has('typo');
    // @ts-expect-error: an undeclared key
    session.remove('typo');
  });

  it('increment and decrement take numeric keys only', () => {
    expectTypeOf(session.increment('visits')).toEqualTypeOf<number>();
    session.decrement('visits', 2);
    // @ts-expect-error: userId holds a string
    session.increment('userId');
    // @ts-expect-error: an undeclared key
    session.decrement('typo');
  });

  it('flash, now and reflash are typed like put', () => {
    session.flash('notice', 'Saved').now('notice', 'Preview');
    expectTypeOf(session.flash('notice')).toEqualTypeOf<string | undefined>();
    session.reflash(['notice']);
    // @ts-expect-error: wrong value type
    session.flash('notice', 42);
    // @ts-expect-error: an undeclared key
    session.now('typo', 'x');
    // @ts-expect-error: an undeclared key
    session.reflash(['typo']);
  });

  it('all() is a read-only partial of the data', () => {
    expectTypeOf(session.all()).toEqualTypeOf<Readonly<Partial<AppData>>>();
  });

  it('the escape hatch for untyped keys: a Session over a record type', () => {
    untyped.put('anything', { at: 'all' }).increment('n');
    expectTypeOf(untyped.get('anything')).toBeAny();
    const loose = session as unknown as Session<Record<string, unknown>>;
    loose.put('extra', 1);
  });
});
