// What /metrics tells Prometheus (text format 0.0.4): requests by route and status, reports
// stored and refused, events stored, database latency, and at scrape time deployments by
// outcome and machines by state. Labels come from the route table, never from a request,
// so a peer cannot grow them.

/** Seconds: where a database query's time falls. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly counters = new Map<string, number>();
  private readonly dbBuckets = BUCKETS.map(() => 0);
  private dbCount = 0;
  private dbSum = 0;
  readonly startedAt = Date.now();

  request(route: string, status: number): void {
    const key = `${route}\u0000${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  count(name: 'reports_stored' | 'reports_refused' | 'events_stored' | 'identity_refused' | 'connections_shed', n = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + n);
  }

  dbQuery(seconds: number): void {
    this.dbCount++;
    this.dbSum += seconds;
    BUCKETS.forEach((b, i) => {
      if (seconds <= b) this.dbBuckets[i]!++;
    });
  }

  render(gauges: {deployments: Record<string, number>; machines: Record<string, number>; connections: number}): string {
    const label = (v: string) => v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, lines: string[]) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    metric(
      'anemos_registry_http_requests_total',
      'counter',
      'Requests answered, by route (from the route table) and status.',
      [...this.requests].sort().map(([k, n]) => {
        const [route, status] = k.split('\u0000');
        return `anemos_registry_http_requests_total{route="${label(route!)}",status="${status}"} ${n}`;
      }),
    );
    const counter = (name: string, help: string) => metric(`anemos_registry_${name}_total`, 'counter', help, [`anemos_registry_${name}_total ${this.counters.get(name) ?? 0}`]);
    counter('reports_stored', 'Reports stored whole.');
    counter('reports_refused', 'Reports refused (invalid, another machine, another deployment).');
    counter('events_stored', 'Deployment events stored (each once).');
    counter('identity_refused', 'Reports, enrollments and deployments refused because they named another machine.');
    counter('connections_shed', 'Connections closed because their address had too many unauthenticated ones open.');
    metric('anemos_registry_db_query_seconds', 'histogram', 'Time of each database query.', [
      // Each query counted in every bucket it fits: the buckets are cumulative, as Prometheus wants.
      ...BUCKETS.map((b, i) => `anemos_registry_db_query_seconds_bucket{le="${b}"} ${this.dbBuckets[i]}`),
      `anemos_registry_db_query_seconds_bucket{le="+Inf"} ${this.dbCount}`,
      `anemos_registry_db_query_seconds_sum ${this.dbSum.toFixed(6)}`,
      `anemos_registry_db_query_seconds_count ${this.dbCount}`,
    ]);
    metric('anemos_registry_deployments', 'gauge', 'Deployments recorded, by outcome (running: none yet).', Object.entries(gauges.deployments).sort().map(([o, n]) => `anemos_registry_deployments{outcome="${label(o)}"} ${n}`));
    metric('anemos_registry_machines', 'gauge', 'Machines, by lifecycle state.', Object.entries(gauges.machines).sort().map(([s, n]) => `anemos_registry_machines{state="${label(s)}"} ${n}`));
    metric('anemos_registry_open_connections', 'gauge', 'TCP connections open now.', [`anemos_registry_open_connections ${gauges.connections}`]);
    metric('anemos_registry_start_time_seconds', 'gauge', 'When this process started (Unix time).', [`anemos_registry_start_time_seconds ${Math.floor(this.startedAt / 1000)}`]);
    return out.join('\n') + '\n';
  }
}
