import type { InspectionEvent } from 'xstate';

/** Options of {@link createConsoleInspector}. */
export interface ConsoleInspectorOptions {
  /** Where lines go. Default `console.log`. */
  write?: (line: string) => void;
  /** Prefix for every line, to tell several clients apart (e.g. `'A'`). */
  label?: string;
  /** Clock for the time column, ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/**
 * An XState inspector that needs no network: one readable line per transition of the root machine,
 * `time  from → to  (event)  reason/retry`. It prints event types and a few public context fields only,
 * never event payloads, so nothing secret or private can reach the console through it.
 * Pass it as `inspect` to `createActor` or in the client's options.
 */
export function createConsoleInspector(
  options: ConsoleInspectorOptions = {},
): (event: InspectionEvent) => void {
  const write = options.write ?? ((line: string) => console.log(line));
  const now = options.now ?? Date.now;
  const prefix = options.label ? `${options.label} ` : '';
  let previous: string | undefined;
  // Invoked services by actor id: "xstate.done.actor.0.signaling.session…" reads better as "signer done".
  const services = new Map<string, string>();
  return (inspection) => {
    if (inspection.type === '@xstate.actor') {
      const { id, src } = inspection.actorRef as unknown as { id: string; src?: unknown };
      if (typeof src === 'string') services.set(id, src);
      return;
    }
    if (inspection.type !== '@xstate.snapshot' || inspection.actorRef.sessionId !== inspection.rootId) return;
    const snapshot = inspection.snapshot as {
      value?: unknown;
      context?: Record<string, unknown>;
      tags?: ReadonlySet<string>;
    };
    if (snapshot.value === undefined) return;
    const current = statePath(snapshot.value);
    if (current === previous) return;
    const from = previous ?? '(start)';
    previous = current;
    // Why and how long only where they apply: a reason left in context would mislead elsewhere.
    const waiting = snapshot.tags?.has('reconnecting') || snapshot.tags?.has('failed');
    const details = waiting ? describe(snapshot.context) : '';
    const event = eventLabel(inspection.event.type, services);
    write(`${prefix}${clock(now())}  ${from} → ${current}  (${event})${details}`);
  };
}

/** `{ session: { authenticating: 'signing' } }` → `session.authenticating.signing`. */
export function statePath(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null) return String(value);
  return Object.entries(value as Record<string, unknown>)
    .map(([key, child]) => {
      const rest = statePath(child);
      return rest === '' || (typeof child === 'object' && child !== null && Object.keys(child).length === 0)
        ? key
        : `${key}.${rest}`;
    })
    .join(' | ');
}

function eventLabel(type: string, services: ReadonlyMap<string, string>): string {
  if (type.startsWith('xstate.after.')) {
    const rest = type.slice('xstate.after.'.length);
    return `after ${rest.slice(0, rest.indexOf('.'))}`;
  }
  const settled = /^xstate\.(done|error)\.actor\.(.+)$/.exec(type);
  if (settled) {
    const id = settled[2] as string;
    return `${services.get(id) ?? id} ${settled[1] === 'done' ? 'done' : 'failed'}`;
  }
  return type;
}

function describe(context: Record<string, unknown> | undefined): string {
  if (!context) return '';
  const parts: string[] = [];
  if (typeof context.reason === 'string') parts.push(`reason ${context.reason}`);
  if (typeof context.closeCode === 'number') parts.push(`close ${context.closeCode}`);
  const error = context.error as { code?: unknown; message?: unknown } | undefined;
  if (error && typeof error.code === 'string') parts.push(`error ${error.code} (${String(error.message)})`);
  if (typeof context.retryIn === 'number') parts.push(`retry in ${Math.round(context.retryIn)} ms`);
  return parts.length > 0 ? `  ${parts.join(', ')}` : '';
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}
