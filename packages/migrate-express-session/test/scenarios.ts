/**
 * The migration scenarios, run against each pair of real stores: an
 * express-session app serves real users, the app is switched to sess with the
 * migrator on the same backend, and every signed-in user stays signed in with
 * their data, migrated exactly once.
 */
import { createHmac } from 'node:crypto';
import type expressSession from 'express-session';
import type { SessionRecord, Store } from '@sess/core';
import { HttpClient, type LoopbackServer } from '@sess/test-utils';
import type { OldSessionSource } from '@sess/migrate-express-session';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NewApp, OLD_MAX_AGE, counting, json, oldIdOf, sessIdOf, startNewApp, startOldApp } from './apps.js';

export interface Backend {
  /** The express-session store of the old app (connect-redis, connect-pg-simple…). */
  oldStore: expressSession.Store;
  /** The sess store of the new app, on the same backend. */
  newStore: Store;
  /** The migrator's reader of the old store. */
  source: OldSessionSource;
  /** When the old store would forget `id` (epoch ms), or undefined when it has no record. */
  oldExpiry(id: string): Promise<number | undefined>;
  /** Every sess record of this test run (the id as the store keeps it: FileStore names files by a hash). */
  newRecords(): Promise<Array<{ id: string; record: SessionRecord }>>;
  close(): Promise<void>;
}

const USERS = ['ada', 'grace', 'linus', 'barbara', 'ken'];

export function migrationScenarios(name: string, open: () => Promise<Backend>): void {
  describe(name, () => {
    let backend: Backend;
    let oldApp: LoopbackServer;
    let newApp: NewApp;
    let source: ReturnType<typeof counting>;
    const clients = new Map<string, HttpClient>();
    const expiries = new Map<string, number>();
    const recordsOf = async (user: string) => (await backend.newRecords()).filter(({ record }) => record.data.userId === user);

    beforeAll(async () => {
      backend = await open();
      // Before the switch: real users sign in on express-session.
      oldApp = await startOldApp(backend.oldStore);
      for (const user of [...USERS, 'flashy', 'racer', 'spread', 'victim', 'tab', 'leaver']) {
        const client = new HttpClient(oldApp.baseUrl);
        await json(await client.post(`/login?user=${user}`));
        expect((await json(await client.get('/me'))).userId).toBe(user);
        clients.set(user, client);
      }
      await json(await clients.get('flashy')!.post('/flash'));
      for (const [user, client] of clients) {
        const expiry = await backend.oldExpiry(oldIdOf(client));
        expect(expiry, `${user} has an old record`).toBeGreaterThan(Date.now());
        expiries.set(user, expiry!);
      }
      await oldApp.close();
      // The switch: the same backend, now through sess and the migrator.
      source = counting(backend.source);
      newApp = await startNewApp(backend.newStore, source);
      // The same browsers, now talking to the new app (same cookies).
      for (const [user, client] of clients) {
        const moved = new HttpClient(newApp.baseUrl);
        for (const [name, value] of client.cookies) moved.cookies.set(name, value);
        clients.set(user, moved);
      }
    });

    afterAll(async () => {
      await newApp?.close();
      await backend?.close();
    });

    it('keeps every signed-in user signed in with their data, migrated exactly once', async () => {
      for (const user of USERS) {
        const client = clients.get(user)!;
        const oldId = oldIdOf(client);
        const body = await json(await client.get('/me'));
        expect(body).toMatchObject({ userId: user, cart: ['sku-1', `sku-${user}`], visits: 1, profile: { name: user.toUpperCase(), since: '2024-01-01' }, user });
        // The browser now holds the sess cookie only.
        expect(client.cookies.has('connect.sid')).toBe(false);
        expect(sessIdOf(client)).toBe(newApp.migrator.sessIdFor(oldId));
        // The old record is gone; one sess record holds the data.
        expect(await backend.oldExpiry(oldId)).toBeUndefined();
        const records = await recordsOf(user);
        expect(records).toHaveLength(1);
        expect(records[0]!.record.data).not.toHaveProperty('cookie');
        expect((await backend.newStore.get(sessIdOf(client)!))?.record).toEqual(records[0]!.record);
        // The next request is a plain sess request.
        expect(await json(await client.get('/visit'))).toEqual({ visits: 2 });
        expect((await json(await client.get('/me'))).visits).toBe(2);
        expect(await recordsOf(user)).toHaveLength(1);
      }
      expect(newApp.results.filter((r) => r.outcome === 'migrated')).toHaveLength(USERS.length);
    });

    it("carries the old expiry over: the sess session ends no later than the old one would have", async () => {
      const client = clients.get(USERS[0]!)!;
      const { expiresAt } = await json(await client.get('/me'));
      const oldExpiry = expiries.get(USERS[0]!)!;
      // The old cookie had 20 minutes; sess's idle timeout is 30: the old end holds.
      expect(expiresAt).toBeLessThanOrEqual(oldExpiry + 1000);
      expect(expiresAt).toBeGreaterThan(Date.now() + OLD_MAX_AGE - 120_000);
      const { record } = (await recordsOf(USERS[0]!))[0]!;
      expect(record.createdAt + 8 * 3600 * 1000).toBeLessThanOrEqual(oldExpiry + 1000);
    });

    it('turns pending connect-flash messages into sess flash values, shown once', async () => {
      const client = clients.get('flashy')!;
      expect((await json(await client.get('/me'))).flash).toEqual(['welcome back', 'your cart was kept']);
      expect((await json(await client.get('/me'))).flash).toBeNull();
      expect((await json(await client.get('/me'))).userId).toBe('flashy');
    });

    it('gives a forged s: cookie a fresh session without reading the old store', async () => {
      const victim = clients.get('victim')!;
      const oldId = oldIdOf(victim);
      const claims = source.claims;
      const forge = (id: string, secret: string) => `s:${id}.${createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '')}`;
      const attempts = [
        forge(oldId, 'a guessed secret'), // the right id, the wrong secret
        `s:${oldId}.`, // an empty signature
        `s:${oldId}`,
        oldId, // unsigned, as express-session never sends it
        `s:${oldId}.${oldIdOf(clients.get('tab')!)}`, // someone else's material
      ];
      for (const cookie of attempts) {
        const attacker = new HttpClient(newApp.baseUrl);
        attacker.cookies.set('connect.sid', encodeURIComponent(cookie));
        const body = await json(await attacker.get('/me'));
        expect(body).toMatchObject({ userId: null, cart: null, user: null });
        expect(sessIdOf(attacker)).toBeUndefined();
      }
      // A real signature of another id does not unlock the victim either.
      const tab = decodeURIComponent(clients.get('tab')!.cookies.get('connect.sid')!);
      const spliced = new HttpClient(newApp.baseUrl);
      spliced.cookies.set('connect.sid', encodeURIComponent(`s:${oldId}.${tab.slice(tab.lastIndexOf('.') + 1)}`));
      expect((await json(await spliced.get('/me'))).userId).toBeNull();

      expect(source.claims).toBe(claims); // the old store was never read
      expect(await backend.oldExpiry(oldId)).toBeGreaterThan(Date.now()); // the victim's record is untouched
      expect((await json(await victim.get('/me'))).userId).toBe('victim'); // and still migrates for the victim
    });

    it('migrates once when the first requests after the switch overlap', async () => {
      const racer = clients.get('racer')!;
      const oldId = oldIdOf(racer);
      const before = newApp.results.length;
      const tabs = Array.from({ length: 6 }, () => racer.clone());
      const responses = await Promise.all(tabs.map((tab) => tab.get('/visit')));
      const bodies = await Promise.all(responses.map(json));
      // Every request was signed in (its count starts from the old value, 1).
      for (const body of bodies) expect(body.visits).toBeGreaterThanOrEqual(2);
      // One sess session, the same cookie everywhere, the old record gone.
      const ids = new Set(tabs.map(sessIdOf));
      expect(ids).toEqual(new Set([newApp.migrator.sessIdFor(oldId)]));
      expect(await recordsOf('racer')).toHaveLength(1);
      expect(await backend.oldExpiry(oldId)).toBeUndefined();
      const outcomes = newApp.results.slice(before).map((r) => r.outcome).sort();
      expect(outcomes).toEqual(['handed-over', 'handed-over', 'handed-over', 'handed-over', 'handed-over', 'migrated']);
      // Increments are atomic in the store: all six count, on the one session.
      expect((await json(await tabs[0]!.get('/me'))).visits).toBe(7);
    });

    it('migrates once when overlapping requests reach two instances of the new app', async () => {
      const second = await startNewApp(backend.newStore, source);
      try {
        const spread = clients.get('spread')!;
        const oldId = oldIdOf(spread);
        const tabs = Array.from({ length: 6 }, (_, i) => {
          const tab = new HttpClient(i % 2 === 0 ? newApp.baseUrl : second.baseUrl);
          for (const [name, value] of spread.cookies) tab.cookies.set(name, value);
          return tab;
        });
        const bodies = await Promise.all(tabs.map(async (tab) => json(await tab.get('/visit'))));
        for (const body of bodies) expect(body.visits).toBeGreaterThanOrEqual(2);
        expect(new Set(tabs.map(sessIdOf))).toEqual(new Set([newApp.migrator.sessIdFor(oldId)]));
        expect(await recordsOf('spread')).toHaveLength(1);
        expect(await backend.oldExpiry(oldId)).toBeUndefined();
        expect((await json(await tabs[1]!.get('/me'))).visits).toBe(7);
        const outcomes = [...newApp.results, ...second.results].filter((r) => r.cookieHeader?.includes(sessIdOf(tabs[0]!)!)).map((r) => r.outcome);
        expect(outcomes.filter((o) => o === 'migrated')).toHaveLength(1);
      } finally {
        await second.close();
      }
    });

    it('hands the migrated session to a tab that still has the old cookie, and never brings back a signed-out one', async () => {
      const first = clients.get('tab')!;
      const second = first.clone(); // another tab: the same cookie, not yet updated
      expect((await json(await first.get('/me'))).userId).toBe('tab');
      expect((await json(await second.get('/me'))).userId).toBe('tab');
      expect(sessIdOf(second)).toBe(sessIdOf(first));
      expect(await recordsOf('tab')).toHaveLength(1);

      const leaver = clients.get('leaver')!;
      const stale = leaver.clone();
      expect((await json(await leaver.get('/me'))).userId).toBe('leaver');
      await json(await leaver.post('/logout'));
      expect(await recordsOf('leaver')).toHaveLength(0);
      // The old cookie cannot bring the session back: the old record is gone and so is the sess one.
      expect((await json(await stale.get('/me'))).userId).toBeNull();
      expect(stale.cookies.has('connect.sid')).toBe(false);
      expect(await recordsOf('leaver')).toHaveLength(0);
    });
  });
}
