import { actions } from 'demo-kit';
import { formRoute } from '../../../lib/form-route.js';

export const POST = formRoute(({ session }) => {
  actions.signOut(session);
  return '/';
});
