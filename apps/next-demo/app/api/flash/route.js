import { actions } from 'demo-kit';
import { formRoute } from '../../../lib/form-route.js';

export const POST = formRoute(({ session, fields }) => {
  actions.flashMessage(session, fields.mode);
  return '/flash';
});
