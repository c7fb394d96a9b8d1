/** The chat relay's errors, in Phoenix's one hierarchy. */
import { PhoenixError } from '../domain/errors';

/** The invoked alias names no configured channel: the deployment and the subscription disagree. */
export class ChatRouteError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ChatRouteError';
  }
}
