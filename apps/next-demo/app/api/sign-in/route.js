import { actions } from 'demo-kit';
import { formRoute } from '../../../lib/form-route.js';

export const POST = formRoute(({ session, fields, request }) => {
  const result = actions.signIn(session, { username: fields.username, userAgent: request.headers.get('user-agent') ?? '' });
  if (result.error) {
    session.flash('error', result.error);
    return '/sign-in';
  }
  return '/';
});
