-- License and machine files: a check-out is an observation (it never enters a stream); the
-- latest one of each license and machine is operational state beside its validations and pings.
alter table license_activity add column last_check_out bigint;
alter table machine_heartbeats add column last_check_out bigint;
