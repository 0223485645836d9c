import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { MemoryStore, SessionManager } from '@sess/core';
import { SessionLifecycle } from '@sess/core/http';
import { TestClient, testSecret } from '@sess/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { instrumentSess, type Instrumentation } from '@sess/otel';

let instrumentation: Instrumentation | undefined;
afterEach(() => instrumentation?.stop());

function setup() {
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const metricsOut = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter: metricsOut, exportIntervalMillis: 60_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  instrumentation = instrumentSess({ tracerProvider, meterProvider });
  const manager = new SessionManager<Record<string, any>>({ secret: testSecret(), store: new MemoryStore({ sweepInterval: 0 }), cookie: { secure: false } });
  const metricNames = async () => {
    await reader.forceFlush();
    return metricsOut.getMetrics().flatMap((m) => m.scopeMetrics.flatMap((s) => s.metrics.map((x) => x.descriptor.name)));
  };
  return { spans, manager, metricNames };
}

describe('@sess/otel', () => {
  it('turns loads, commits and store calls into spans with outcomes, and never records data or whole ids', async () => {
    const { spans, manager } = setup();
    const client = new TestClient(manager);
    const first = await client.request((s) => s.put('card', '4111-1111'));
    await client.request((s) => s.increment('n'));
    const names = spans.getFinishedSpans().map((s) => s.name);
    expect(names).toEqual(['sess.load', 'sess.store.set', 'sess.commit', 'sess.store.get', 'sess.load', 'sess.store.update', 'sess.commit']);
    const commit = spans.getFinishedSpans().find((s) => s.name === 'sess.commit')!;
    expect(commit.attributes).toMatchObject({ 'sess.outcome': 'created', 'sess.id_prefix': first.session.id.slice(0, 8) });
    const everything = JSON.stringify(spans.getFinishedSpans().map((s) => s.attributes));
    expect(everything).not.toContain('4111');
    expect(everything).not.toContain(first.session.id);
  });

  it('counts CSRF refusals and records store durations as metrics; stop() unsubscribes', async () => {
    const { manager, metricNames, spans } = setup();
    const lifecycle = new SessionLifecycle(manager, { csrf: true });
    await expect(lifecycle.begin({ method: 'POST', header: () => undefined })).rejects.toMatchObject({ code: 'E_CSRF' });
    await new TestClient(manager).request((s) => s.put('a', 1));
    expect(await metricNames()).toEqual(expect.arrayContaining(['sess.csrf.refused', 'sess.store.duration', 'sess.commit.duration']));
    instrumentation!.stop();
    const before = spans.getFinishedSpans().length;
    await new TestClient(manager).request((s) => s.put('a', 1));
    expect(spans.getFinishedSpans().length).toBe(before);
  });
});
