-- A machine's heartbeat: operational state, NOT a projection. Pings are observations (they never
-- enter a stream), so the last ping and the deadline it sets live here; a row is made when its
-- machine is activated and removed when it is deactivated. A rebuild leaves the table alone.
-- dead_at: when a worker decided the machine died; claimed_until: a worker's lease on the row
-- while it decides (several workers never decide one death twice).
create table machine_heartbeats (
    machine_id     text primary key,
    account_id     text not null,
    license_id     text not null,
    last_heartbeat bigint,
    deadline       bigint,
    dead_at        bigint,
    claimed_until  bigint
);
create index machine_heartbeats_deadline on machine_heartbeats (deadline);
