// The registry's database, whichever it is: the embedded one in a data directory (PGlite:
// PostgreSQL compiled to WebAssembly) or a PostgreSQL server. One SQL dialect, so one
// schema and one set of migrations serve both (docs/registry.md).

export interface Db {
  readonly kind: 'embedded' | 'postgres';
  /** Where it is, for messages: the data directory, or the server without its password. */
  readonly where: string;
  /**
   * One statement. `prepared`: a name for a statement run often, which a server keeps
   * parsed and planned per connection (the embedded database parses it each time anyway).
   */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], prepared?: string): Promise<T[]>;
  /** Statements in one transaction: all of them, or none. */
  transaction<T>(fn: (tx: Pick<Db, 'query'>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Each migration once, in order, each in its own transaction; the version is kept in the database. */
export const MIGRATIONS: string[] = [
  `CREATE TABLE machines (
     id text PRIMARY KEY,
     uuid text UNIQUE,
     hostname text,
     state text NOT NULL DEFAULT 'new',
     tags text[] NOT NULL DEFAULT '{}',
     attributes jsonb NOT NULL DEFAULT '{}',
     desired jsonb,
     inventory jsonb,
     created_at timestamptz NOT NULL DEFAULT now(),
     updated_at timestamptz NOT NULL DEFAULT now(),
     last_seen timestamptz
   );
   CREATE TABLE machine_macs (mac text PRIMARY KEY, machine_id text NOT NULL REFERENCES machines(id));
   CREATE TABLE inventory_reports (
     id bigserial PRIMARY KEY,
     machine_id text NOT NULL REFERENCES machines(id),
     received_at timestamptz NOT NULL DEFAULT now(),
     inventory jsonb NOT NULL,
     changes jsonb NOT NULL DEFAULT '[]'
   );
   CREATE INDEX inventory_reports_machine ON inventory_reports (machine_id, id);
   CREATE TABLE deployments (
     id text PRIMARY KEY,
     machine_id text NOT NULL REFERENCES machines(id),
     mode text NOT NULL,
     who text,
     source text,
     artifacts jsonb NOT NULL DEFAULT '[]',
     started_at timestamptz NOT NULL DEFAULT now(),
     finished_at timestamptz,
     outcome text
   );
   CREATE INDEX deployments_machine ON deployments (machine_id, started_at);
   CREATE TABLE deployment_events (
     deployment_id text NOT NULL REFERENCES deployments(id),
     seq integer NOT NULL,
     received_at timestamptz NOT NULL DEFAULT now(),
     event jsonb NOT NULL,
     PRIMARY KEY (deployment_id, seq)
   );
   CREATE TABLE audit (
     id bigserial PRIMARY KEY,
     at timestamptz NOT NULL DEFAULT now(),
     actor text NOT NULL,
     machine_id text,
     action text NOT NULL,
     detail jsonb NOT NULL DEFAULT '{}'
   );
   CREATE INDEX audit_machine ON audit (machine_id, id);
   CREATE TABLE tokens (
     id text PRIMARY KEY,
     hash text NOT NULL UNIQUE,
     role text NOT NULL,
     note text,
     created_at timestamptz NOT NULL DEFAULT now()
   );
   -- Append-only: the audit log is never changed or cut, whoever connects.
   CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
   CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();`,
  // Credentials bound to one machine or one deployment, tokens that expire, are used up or revoked.
  `ALTER TABLE tokens ADD COLUMN machine_id text REFERENCES machines(id);
   ALTER TABLE tokens ADD COLUMN deployment_id text REFERENCES deployments(id);
   ALTER TABLE tokens ADD COLUMN expires_at timestamptz;
   ALTER TABLE tokens ADD COLUMN uses_left integer;
   ALTER TABLE tokens ADD COLUMN revoked_at timestamptz;
   ALTER TABLE tokens ADD COLUMN last_used_at timestamptz;
   ALTER TABLE tokens ADD COLUMN created_by text;
   -- The reporter role is gone: one token on every host could speak for any machine. What it
   -- was for on a new host, registering the machine, an enroll token does.
   UPDATE tokens SET role = 'enroll', note = CASE WHEN note IS NULL THEN 'was a reporter token' ELSE note || ' (was a reporter token)' END WHERE role = 'reporter';
   CREATE INDEX tokens_machine ON tokens (machine_id);
   CREATE INDEX tokens_deployment ON tokens (deployment_id);
   CREATE INDEX tokens_created ON tokens (created_at, id);
   CREATE INDEX deployments_recorded ON deployments (started_at, id);
   CREATE INDEX audit_action ON audit (action, id);
   CREATE INDEX machines_state ON machines (state, id);`,
  // Network boot: a machine first seen by a network boot (it waits in RAM for a deployment),
  // and the last boot request the boot service answered for it (for the operator's page).
  `ALTER TABLE machines ADD COLUMN discovered_at timestamptz;
   ALTER TABLE machines ADD COLUMN last_boot jsonb;`,
  // Keys every process on this database shares: the one that signs network boot links, so
  // that a link one anemos serve --boot gave is good at another and after a restart.
  `CREATE TABLE secrets (name text PRIMARY KEY, value text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());`,
  // Live images: what a machine that runs one reports of its drift (what differs from the image it booted).
  `ALTER TABLE machines ADD COLUMN drift jsonb;`,
  // A live machine's SSH host keys, made once and carried by each of its network live boots
  // (its identity survives a reboot). Apart from machines: the private keys are read only
  // to compose a boot, never by the API, which shows the public ones.
  `CREATE TABLE machine_host_keys (machine_id text PRIMARY KEY REFERENCES machines(id), private jsonb NOT NULL, public jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now());`,
];

export async function migrate(db: Db): Promise<{from: number; to: number}> {
  await db.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
  const [row] = await db.query<{v: number | null}>('SELECT max(version) AS v FROM schema_migrations');
  const from = Number(row?.v ?? 0);
  for (let v = from + 1; v <= MIGRATIONS.length; v++) {
    await db.transaction(async (tx) => {
      for (const statement of splitStatements(MIGRATIONS[v - 1]!)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version) VALUES ($1)', [v]);
    });
  }
  return {from, to: MIGRATIONS.length};
}

/** One statement at a time (the extended protocol takes one): split on ; outside $$ bodies. */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inBody = false;
  for (const line of sql.split('\n')) {
    const l = line.replace(/--.*$/, '');
    if ((l.match(/\$\$/g)?.length ?? 0) % 2 === 1) inBody = !inBody;
    cur += l + '\n';
    if (!inBody && l.trim().endsWith(';')) {
      out.push(cur.trim().replace(/;$/, ''));
      cur = '';
    }
  }
  if (cur.trim()) out.push(cur.trim().replace(/;$/, ''));
  return out.filter(Boolean);
}
