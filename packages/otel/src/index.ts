/**
 * OpenTelemetry for sess: subscribes to the `node:diagnostics_channel` events
 * core publishes and turns them into spans and metrics. No monkey-patching:
 * sess says what it does, this package only listens.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { type Attributes, type MeterProvider, SpanStatusCode, type TracerProvider, context, metrics, trace } from '@opentelemetry/api';
import { CHANNELS, type CommitEvent, type ConflictEvent, type CsrfEvent, type LoadEvent, type RegenerateEvent, type StoreEvent, type TimeoutEvent } from '@sess/core';

export interface InstrumentOptions {
  /** Where spans go. @default the global tracer provider */
  tracerProvider?: TracerProvider;
  /** Where metrics go. @default the global meter provider */
  meterProvider?: MeterProvider;
  /** Make a span for every store call (not only load and commit). @default true */
  storeSpans?: boolean;
}

/** What `instrumentSess` returns: `stop()` unsubscribes. */
export interface Instrumentation {
  stop(): void;
}

const NAME = '@sess/otel';

/**
 * Spans: `sess.load`, `sess.commit`, `sess.store.<method>` (children of the
 * active span, usually the HTTP request's), with `sess.outcome` and
 * `sess.id_prefix` attributes and an error status for failures. Metrics:
 * `sess.store.duration` and `sess.commit.duration` histograms (ms), counters
 * `sess.csrf.refused`, `sess.session.timeouts`, `sess.store.conflicts`,
 * `sess.session.regenerations`.
 *
 * @example
 * import { instrumentSess } from '@sess/otel';
 * instrumentSess(); // after the OpenTelemetry SDK is set up
 */
export function instrumentSess(options: InstrumentOptions = {}): Instrumentation {
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(NAME);
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(NAME);
  const storeSpans = options.storeSpans ?? true;
  const storeDuration = meter.createHistogram('sess.store.duration', { unit: 'ms', description: 'Duration of session store calls' });
  const commitDuration = meter.createHistogram('sess.commit.duration', { unit: 'ms', description: 'Duration of session commits' });
  const csrfRefused = meter.createCounter('sess.csrf.refused', { description: 'Requests refused by the CSRF check' });
  const timeouts = meter.createCounter('sess.session.timeouts', { description: 'Sessions ended by the idle or absolute timeout' });
  const conflicts = meter.createCounter('sess.store.conflicts', { description: 'Compare-and-set writes retried after losing a race' });
  const regenerations = meter.createCounter('sess.session.regenerations', { description: 'Committed regenerateId() calls' });

  /** A span for something that already happened: it ended now and lasted `durationMs`. */
  const span = (name: string, durationMs: number, attributes: Attributes, failed: boolean) => {
    const end = Date.now();
    const started = tracer.startSpan(name, { startTime: end - durationMs, attributes }, context.active());
    if (failed) started.setStatus({ code: SpanStatusCode.ERROR });
    started.end(end);
  };

  const handlers: Record<string, (message: unknown) => void> = {
    [CHANNELS.load]: (message) => {
      const e = message as LoadEvent;
      span('sess.load', e.durationMs, { 'sess.outcome': e.outcome, 'sess.flash_taken': e.flashTaken, 'sess.token_used': e.tokenUsed, ...prefix(e.idPrefix) }, false);
    },
    [CHANNELS.commit]: (message) => {
      const e = message as CommitEvent;
      const attributes = { 'sess.outcome': e.outcome, ...prefix(e.idPrefix), ...(e.code ? { 'sess.error_code': e.code } : {}) };
      span('sess.commit', e.durationMs, attributes, e.outcome === 'failed');
      commitDuration.record(e.durationMs, { 'sess.outcome': e.outcome });
    },
    [CHANNELS.store]: (message) => {
      const e = message as StoreEvent;
      const attributes = { 'sess.store.method': e.method, 'sess.outcome': e.outcome, ...(e.code ? { 'sess.error_code': e.code } : {}) };
      if (storeSpans) span(`sess.store.${e.method}`, e.durationMs, { ...attributes, ...prefix(e.idPrefix) }, e.outcome !== 'ok');
      storeDuration.record(e.durationMs, attributes);
    },
    [CHANNELS.csrf]: (message) => {
      const e = message as CsrfEvent;
      csrfRefused.add(1, { 'sess.csrf.reason': e.reason, 'http.request.method': e.method });
    },
    [CHANNELS.timeout]: (message) => timeouts.add(1, { 'sess.timeout.kind': (message as TimeoutEvent).kind }),
    [CHANNELS.conflict]: (message) => conflicts.add(1, { 'sess.store.method': (message as ConflictEvent).method }),
    [CHANNELS.regenerate]: (message) => regenerations.add(1, { 'sess.outcome': (message as RegenerateEvent).outcome }),
  };
  for (const [name, handler] of Object.entries(handlers)) subscribe(name, handler);
  return {
    stop() {
      for (const [name, handler] of Object.entries(handlers)) unsubscribe(name, handler);
    },
  };
}

const prefix = (idPrefix: string | undefined): Attributes => (idPrefix === undefined ? {} : { 'sess.id_prefix': idPrefix });
