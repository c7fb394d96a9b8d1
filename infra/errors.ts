/**
 * The errors synthesis throws for a stack it must not build, in Phoenix's one hierarchy
 * (`functions/domain/errors.ts`): each names what to change, and `infra/app.ts` prints bad
 * input as one line.
 */
import { InvalidInputError, PhoenixError } from '../functions/domain/errors';

/** Thrown when a context value is wrong; the message names every bad key. */
export class SettingsError extends InvalidInputError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SettingsError';
  }
}

/** Thrown at synth when an action has no known scope. */
export class UnscopedActionError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UnscopedActionError';
  }
}

/** Thrown at synth when a table brought to Phoenix does not have the layout its code needs. */
export class StateTableLayoutError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StateTableLayoutError';
  }
}

/** Thrown at synth when the ASL cannot be wired (unknown placeholder, unknown Task resource). */
export class AslWiringError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AslWiringError';
  }
}

/** Thrown at synth when the plan role's options are wrong. */
export class PlanRoleError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PlanRoleError';
  }
}

/** Thrown at synth when a grant is not explained: a wildcard resource or action without a reason. */
export class UnexplainedWildcardError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UnexplainedWildcardError';
  }
}

/** Thrown at synth when a topic brought to Phoenix cannot carry its notifications. */
export class NotificationTopicError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NotificationTopicError';
  }
}

/** Thrown at synth when the chat channels are misconfigured. */
export class ChatChannelError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ChatChannelError';
  }
}

/** Thrown at synth when the desired state cannot be inlined into a bundle. */
export class DesiredStateTooLargeError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DesiredStateTooLargeError';
  }
}

/** Thrown at synth when a Lambda bundle cannot be built; the message carries esbuild's. */
export class LambdaBundleError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LambdaBundleError';
  }
}
