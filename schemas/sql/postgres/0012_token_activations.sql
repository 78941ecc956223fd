-- Activation tokens (a license's own tokens) carry maxima of the machines activated and
-- deactivated with them; their license counts both, and its events set the counts here.
alter table tokens add column max_activations bigint;
alter table tokens add column activations bigint not null default 0;
alter table tokens add column max_deactivations bigint;
alter table tokens add column deactivations bigint not null default 0;
