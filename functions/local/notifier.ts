/**
 * The notifications of a local run: published as the deployed stack publishes them when there
 * is a topic, and kept for the report either way.
 */
import type { NotificationPublisher } from '../aws/notifier';
import {
  type NotificationEvent,
  notificationSubject,
  type PhoenixNotification,
} from '../domain/notification';

/** A notification Phoenix sent (or, without a topic, would have sent). */
export interface SentNotification {
  event: NotificationEvent;
  team: string;
  fleet: string;
  instanceId: string;
  severity: string;
  subject: string;
  /** False when there was no topic to publish to. */
  published: boolean;
  body: PhoenixNotification;
}

/** Publishes through SNS when there is a topic, and remembers every notification for the report. */
export class RecordingNotifier implements NotificationPublisher {
  readonly sent: SentNotification[];
  readonly #inner: NotificationPublisher | undefined;

  /** `sent` may be shared with another recorder (one report, several publishers). */
  constructor(inner: NotificationPublisher | undefined, sent: SentNotification[] = []) {
    this.#inner = inner;
    this.sent = sent;
  }

  async publish(n: PhoenixNotification): Promise<void> {
    if (this.#inner !== undefined) await this.#inner.publish(n);
    this.sent.push({
      event: n.event,
      team: n.team,
      fleet: n.fleet,
      instanceId: n.instanceId,
      severity: n.severity,
      subject: notificationSubject(n),
      published: this.#inner !== undefined,
      body: n,
    });
  }
}
