-- A lease on each feed reader, so one catch-up runner (or a rebuild) works a checkpoint at a
-- time, whichever process or node it runs in.
alter table projection_checkpoints add column lease_owner text;
alter table projection_checkpoints add column lease_until bigint;
