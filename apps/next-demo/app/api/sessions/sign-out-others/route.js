import { actions } from 'demo-kit';
import { formRoute } from '../../../../lib/form-route.js';

export const POST = formRoute(async ({ session, demo }) => {
  if (!actions.requireUser(session)) return '/sign-in';
  await actions.signOutOthers(demo.manager, session);
  return '/sessions';
});
