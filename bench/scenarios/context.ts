/** What every scenario gets: options, the sink, the competitors that could start, and a log. */
import type { Competitor, CompetitorKey } from '../competitors.js';
import type { CertFiles } from '../lib/certs.js';
import type { Environment } from '../lib/netns.js';
import type { Counts, Options } from '../lib/options.js';
import type { Sink } from '../sink/sink-control.js';
import type { MailgateLauncher } from '../mailgate/service.js';

export interface Context {
  options: Options;
  counts: Counts;
  environment: Environment;
  sink: Sink;
  ca: string;
  /** The benchmark certificate's files (the sink's; the relay scenario's servers use it too). */
  certFiles: CertFiles;
  /** Why Postfix cannot run (not installed, --only), when it cannot. */
  postfixUnavailable?: string;
  /** The sink's certificate file (the CA the services and Postfix trust). */
  caPath?: string;
  competitors: Partial<Record<CompetitorKey, Competitor>>;
  mailgate?: MailgateLauncher;
  notes: string[];
  log(message: string): void;
  /** Unique run ids. */
  runId(prefix: string): string;
}

/** The competitors in the order of repetition `rep` (rotated, so each goes first in turn). */
export function rotation<T>(items: readonly T[], rep: number): T[] {
  const k = items.length ? rep % items.length : 0;
  return [...items.slice(k), ...items.slice(0, k)];
}
