-- Hypermnesia's PostgreSQL schema, version 1: the journal, the hypergraph and the traces.
-- Every table that holds memory carries the namespace key (ns) in its primary key.

-- the journal ------------------------------------------------------------------------------------
CREATE TABLE leases (
    lease_id BIGSERIAL PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE turns (
    ns TEXT NOT NULL, turn_id TEXT NOT NULL, payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', recorded_at TEXT NOT NULL,
    owner BIGINT, seq BIGSERIAL NOT NULL,
    PRIMARY KEY (ns, turn_id)
);
CREATE INDEX turns_pending ON turns (seq) WHERE status = 'pending';
CREATE INDEX turns_order ON turns (ns, seq);
CREATE TABLE ops (
    op_id BIGSERIAL PRIMARY KEY, ns TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
    reason TEXT, status TEXT NOT NULL, created_at TEXT NOT NULL, done_at TEXT,
    seq BIGINT, run_id TEXT, owner BIGINT
);
CREATE INDEX ops_pending ON ops (op_id) WHERE status = 'pending';
CREATE INDEX ops_seq ON ops (ns, seq);
CREATE TABLE op_units (
    op_id BIGINT NOT NULL, ns TEXT NOT NULL, unit_id TEXT NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY (ns, unit_id, op_id)
);
CREATE INDEX op_units_by_op ON op_units (op_id);
CREATE TABLE provenance (
    ns TEXT NOT NULL, unit_id TEXT NOT NULL, source_id TEXT NOT NULL,
    PRIMARY KEY (ns, unit_id, source_id)
);
CREATE INDEX provenance_source ON provenance (ns, source_id);
CREATE TABLE access (
    ns TEXT NOT NULL, unit_id TEXT NOT NULL, count BIGINT NOT NULL, last TEXT NOT NULL,
    PRIMARY KEY (ns, unit_id)
);
CREATE TABLE ns_versions (ns TEXT PRIMARY KEY, version BIGINT NOT NULL);
CREATE TABLE writes (
    write_id BIGSERIAL PRIMARY KEY, ns TEXT NOT NULL, turn_ids TEXT NOT NULL,
    session_end BOOLEAN NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
    created_at TEXT NOT NULL, owner BIGINT
);
CREATE INDEX writes_pending ON writes (write_id) WHERE status = 'pending';
CREATE TABLE pending_work (
    ns TEXT NOT NULL, kind TEXT NOT NULL, since TEXT NOT NULL, PRIMARY KEY (ns, kind)
);

-- the hypergraph ---------------------------------------------------------------------------------
CREATE TABLE graph_vertices (
    ns TEXT NOT NULL, id TEXT NOT NULL, kind TEXT NOT NULL, label TEXT NOT NULL,
    norm TEXT NOT NULL,
    PRIMARY KEY (ns, id)
);
CREATE INDEX graph_vertices_by_label ON graph_vertices (ns, norm, kind);
CREATE TABLE graph_edges (
    ns TEXT NOT NULL, id TEXT NOT NULL, granularity TEXT NOT NULL, event_time TEXT,
    current BOOLEAN NOT NULL, weight DOUBLE PRECISION NOT NULL,
    members TEXT NOT NULL, -- the vertex ids in order, joined by U+001F (a copy of incidences)
    PRIMARY KEY (ns, id)
);
CREATE TABLE graph_incidences (
    ns TEXT NOT NULL, edge_id TEXT NOT NULL, vertex_id TEXT NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY (ns, edge_id, vertex_id),
    FOREIGN KEY (ns, edge_id) REFERENCES graph_edges (ns, id) ON DELETE CASCADE,
    FOREIGN KEY (ns, vertex_id) REFERENCES graph_vertices (ns, id)
);
CREATE INDEX graph_incidences_by_vertex ON graph_incidences (ns, vertex_id, edge_id);
CREATE TABLE graph_versions (ns TEXT PRIMARY KEY, version BIGINT NOT NULL);

-- the traces -------------------------------------------------------------------------------------
CREATE TABLE trace_runs (
    run_id TEXT PRIMARY KEY, graph TEXT NOT NULL, ns TEXT NOT NULL, started_at TEXT NOT NULL,
    finished_at TEXT, status TEXT NOT NULL, input TEXT NOT NULL, output TEXT,
    seq BIGSERIAL NOT NULL
);
CREATE INDEX trace_runs_ns ON trace_runs (ns, started_at, seq);
CREATE INDEX trace_runs_recent ON trace_runs (started_at, seq);
CREATE TABLE trace_steps (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, payload TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
