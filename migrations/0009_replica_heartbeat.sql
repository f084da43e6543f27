-- A heartbeat the host writes on the primary (once a second, as the
-- sessions login, while read replicas are configured) and reads back on
-- each replica: its age there is how far the replica is behind the
-- primary. A replica's own replay statistics cannot say that: once its WAL
-- stream stops, it has replayed everything it received and reports no lag,
-- while its copy of the manager map (who may see which store) ages without
-- bound.

CREATE TABLE zava_sessions.heartbeat (
    id integer     PRIMARY KEY CHECK (id = 1),
    at timestamptz NOT NULL
);
GRANT SELECT, INSERT, UPDATE ON zava_sessions.heartbeat TO zava_sessions;
